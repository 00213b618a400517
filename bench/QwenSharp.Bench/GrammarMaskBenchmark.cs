using System.Diagnostics;
using QwenSharp.Grammar;
using QwenSharp.Text;

namespace QwenSharp.Bench;

/// <summary>
/// Constrained-decoding mask cost on the Qwen2 vocabulary (151,936 logits): compiles a few grammars, walks seeded
/// random token sequences the grammar allows and times ApplyMask (mask fill + −inf writes) per step. Two passes per
/// grammar: cold (the per-state token-mask cache fills lazily during the walk) and warm (cache precomputed; the
/// same walks again). `bench grammar-mask [--walks N] [--steps N] [--seed N]`.
/// </summary>
public sealed class GrammarMaskBenchmark : IBenchmark
{
    public string Name => "grammar-mask";
    public string Summary => "constrained decoding: ApplyMask p50/p99 µs and compile ms on the Qwen2 vocabulary";

    private const string Json = """
        root   ::= object
        value  ::= object | array | string | number | ("true" | "false" | "null") ws
        object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
        array  ::= "[" ws ( value ("," ws value)* )? "]" ws
        string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
        number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
        ws ::= | " " | "\n" [ \t]{0,20}
        """;

    private const string Schema = """
        root ::= "{" space "\"name\"" space ":" space string "," space "\"age\"" space ":" space integer "," space "\"address\"" space ":" space address "," space "\"tags\"" space ":" space tags "}" space
        address ::= "{" space "\"street\"" space ":" space string "," space "\"city\"" space ":" space string "," space "\"zip\"" space ":" space zip "}" space
        tags ::= "[" space (string ("," space string)*)? "]" space
        zip ::= "\"" [0-9]{5} "\"" space
        string ::= "\"" char* "\"" space
        char ::= [^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4})
        integer ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) space
        space ::= | " " | "\n" [ \t]{0,20}
        """;

    private const string Phone = """
        root ::= "(" [0-9]{3} ") " [0-9]{3} "-" [0-9]{4}
        """;

    private const string Trigger = """
        root ::= ( [^<] | "<" [^t] )* "<tool_call>" ws "{" ws "\"name\"" ws ":" ws "\"" [a-z_]+ "\"" ws "}" ws "</tool_call>"
        ws ::= [ \n]*
        """;

    public int Run(string[] args)
    {
        int walks = int.Parse(TokenizerBenchmark.Option(args, "--walks") ?? "20");
        int steps = int.Parse(TokenizerBenchmark.Option(args, "--steps") ?? "100");
        int seed = int.Parse(TokenizerBenchmark.Option(args, "--seed") ?? "1");
        var tokenizer = Qwen2Tokenizer.FromTokenizerJson(TokenizerBenchmark.Option(args, "--tokenizer") ?? TokenizerBenchmark.FindFixture());
        var sw = Stopwatch.StartNew();
        var vocab = GrammarVocabulary.FromTokenizer(tokenizer, 151936, [151643, 151645]);
        Console.WriteLine($"vocabulary: {vocab.Size} logits, built in {sw.Elapsed.TotalMilliseconds:F0} ms");
        Console.WriteLine($"{"grammar",-8} {"states",7} {"compile",9} {"precompute",11} {"cache",8} | {"cold p50",9} {"cold p99",9} {"cold max",9} | {"warm p50",9} {"warm p99",9} {"warm max",9} {"steps",6}");
        foreach (var (name, gbnf) in new[] { ("json", Json), ("schema", Schema), ("phone", Phone), ("trigger", Trigger) })
        {
            var grammar = CompiledGrammar.Compile(gbnf, vocab); // the first compile also pays for JIT
            var cold = Walk(grammar, tokenizer, walks, steps, seed);
            long before = GC.GetTotalMemory(forceFullCollection: true);
            sw.Restart();
            var fresh = CompiledGrammar.Compile(gbnf, vocab);
            double compileMs = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            fresh.PrecomputeMasks();
            double precomputeMs = sw.Elapsed.TotalMilliseconds;
            // What one compiled grammar with its whole mask cache keeps (what GrammarCache holds per entry).
            double cacheMiB = (GC.GetTotalMemory(forceFullCollection: true) - before) / (1024.0 * 1024);
            var warm = Walk(fresh, tokenizer, walks, steps, seed);
            Console.WriteLine($"{name,-8} {grammar.StateCount,7} {compileMs,7:F1}ms {precomputeMs,9:F0}ms {cacheMiB,5:F1}MiB | " +
                $"{P(cold, 0.5),7:F1}µs {P(cold, 0.99),7:F1}µs {P(cold, 1),7:F0}µs | {P(warm, 0.5),7:F1}µs {P(warm, 0.99),7:F1}µs {P(warm, 1),7:F0}µs {warm.Count,6}");
        }
        return 0;
    }

    private static double P(List<double> xs, double q)
    {
        var sorted = xs.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];
    }

    /// <summary>Times ApplyMask at every step of seeded random walks; the next token is drawn (untimed) from the
    /// allowed ones, short tokens favoured so that the walks move through the structure.</summary>
    private static List<double> Walk(CompiledGrammar grammar, Qwen2Tokenizer tokenizer, int walks, int steps, int seed)
    {
        var vocab = grammar.Vocabulary;
        var random = new Random(seed);
        var logits = new float[vocab.Size];
        var times = new List<double>();
        var allowed = new List<int>();
        var shortOnes = new List<int>();
        for (int w = 0; w < walks; w++)
        {
            var matcher = new GrammarMatcher(grammar);
            for (int s = 0; s < steps && !matcher.IsTerminated; s++)
            {
                long t0 = Stopwatch.GetTimestamp();
                matcher.ApplyMask(logits);
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                allowed.Clear();
                shortOnes.Clear();
                for (int id = 0; id < logits.Length; id++)
                {
                    if (float.IsNegativeInfinity(logits[id])) { logits[id] = 0; continue; }
                    if (vocab.EndTokenIds.Contains(id)) continue;
                    allowed.Add(id);
                    if (tokenizer.TokenBytes(id).Length <= 2) shortOnes.Add(id);
                }
                int token = allowed.Count == 0 || (matcher.CanEnd && random.NextDouble() < 0.1) ? vocab.EndTokenIds.First()
                    : (shortOnes.Count > 0 && random.NextDouble() < 0.7 ? shortOnes : allowed) is var from ? from[random.Next(from.Count)] : -1;
                if (!matcher.AcceptToken(token)) throw new InvalidOperationException($"allowed token {token} refused");
            }
        }
        return times;
    }
}
