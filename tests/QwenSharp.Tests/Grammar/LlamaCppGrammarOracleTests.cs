using LLama;
using LLama.Common;
using LLama.Native;
using QwenSharp.Grammar;
using QwenSharp.Tests.Clients;

namespace QwenSharp.Tests.Grammar;

/// <summary>
/// Our masks against llama.cpp's own grammar sampler (LLamaSharp 0.30): the same GBNF, a GGUF with the real Qwen2
/// tokenizer, every token a candidate; the candidates llama.cpp leaves finite are its mask. At every step of seeded
/// random walks through tokens both allow, the masks agree except where llama.cpp is looser by design: it judges
/// a token by code points decoded leniently, so it also lets through tokens whose bytes are not valid UTF-8 from
/// where the text stands (lone continuation bytes, C0/C1/F5–FF, overlong or surrogate forms), and it never allows
/// a token whose first byte is NUL, where ours follows the grammar. Only valid UTF-8 can come out of ours; the test
/// asserts that each differing token is of one of those two kinds.
/// Special (control) tokens are left out: llama.cpp spells them as text, ours never allows them; so are the plain
/// tokens llama.cpp takes for end markers.
/// </summary>
public class LlamaCppGrammarOracleTests
{
    private static readonly object NativeGate = new();
    private static readonly Lazy<LLamaWeights> Weights = new(() =>
    {
        lock (NativeGate) NativeLogConfig.llama_log_set((level, message) => { });
        return LLamaWeights.LoadFromFile(new ModelParams(ChatTestModel.Path) { GpuLayerCount = 0, ContextSize = 64 });
    });

    public static TheoryData<string> Names() => new(GrammarTestData.All.Select(g => g.Name));

    [Theory]
    [MemberData(nameof(Names))]
    public void MaskEqualsLlamaCppGrammarSampler(string name)
    {
        string gbnf = GrammarTestData.All.Single(g => g.Name == name).Gbnf;
        var vocab = GrammarTestData.Vocabulary;
        var weights = Weights.Value;
        var grammar = CompiledGrammar.Compile(gbnf, vocab);
        var random = new Random(77);
        int regular = GrammarTestData.EndOfText; // ids below are the byte-level BPE tokens
        var data = new LLamaTokenData[weights.Vocab.Count];
        // llama.cpp also ends generation on ids whose text looks like an end marker (e.g. 128247 "</s>" in Qwen2's
        // vocabulary); those are end ids there and plain text here, so they are not compared.
        var llamaEnds = Enumerable.Range(0, regular).Where(id => ((LLamaToken)id).IsEndOfGeneration(weights.Vocab)).ToHashSet();
        for (int walk = 0; walk < 2; walk++)
        {
            using var chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
            chain.AddGrammar(weights.Vocab, gbnf, "root");
            var matcher = new GrammarMatcher(grammar);
            var text = new List<byte>();
            for (int step = 0; step < 20 && !matcher.IsTerminated; step++)
            {
                for (int i = 0; i < data.Length; i++) data[i] = new LLamaTokenData((LLamaToken)i, 0f, 0f);
                var array = new LLamaTokenDataArray(data, false);
                using (LLamaTokenDataArrayNative.Create(array, out var native)) chain.Apply(ref native);
                var theirs = new bool[vocab.Size];
                foreach (var d in data)
                    if (!float.IsNegativeInfinity(d.Logit) && (int)d.ID < theirs.Length) theirs[(int)d.ID] = true;

                var ours = new ulong[(vocab.Size + 63) / 64];
                matcher.FillMask(ours);
                var common = new List<int>();
                for (int id = 0; id < regular; id++)
                {
                    if (llamaEnds.Contains(id)) continue;
                    bool o = (ours[id >> 6] >> id & 1) != 0;
                    if (o && theirs[id]) { common.Add(id); continue; }
                    if (o == theirs[id]) continue;
                    var bytes = vocab.TokenBytesById[id]!;
                    // llama.cpp refuses any token whose text starts with NUL (it reads pieces as C strings).
                    Assert.False(o && bytes[0] != 0, $"{name} walk {walk} step {step} after '{Show(text)}': we allow token {id} '{GrammarMaskTests.Show(vocab, id)}', llama.cpp does not");
                    if (o) continue;
                    Assert.True(NotValidUtf8From(text, bytes),
                        $"{name} walk {walk} step {step} after '{Show(text)}': llama.cpp allows token {id} '{GrammarMaskTests.Show(vocab, id)}' (valid UTF-8), we do not");
                }
                // End ids: allowed exactly when the text is complete, on both sides.
                Assert.Equal(theirs[GrammarTestData.ImEnd], matcher.CanEnd);
                Assert.NotEmpty(common.Count > 0 ? common : matcher.CanEnd ? [GrammarTestData.ImEnd] : common);
                int token = matcher.CanEnd && (common.Count == 0 || random.NextDouble() < 0.1) ? GrammarTestData.ImEnd
                    : PickShortish(common, vocab, random);
                Assert.True(matcher.AcceptToken(token));
                chain.Accept((LLamaToken)token);
                if (token != GrammarTestData.ImEnd) text.AddRange(vocab.TokenBytesById[token]!);
            }
        }
    }

    private static int PickShortish(List<int> ids, GrammarVocabulary vocab, Random random)
    {
        var shortOnes = ids.Where(id => vocab.TokenBytesById[id]!.Length <= 2).ToList();
        var from = shortOnes.Count > 0 && random.NextDouble() < 0.6 ? shortOnes : ids;
        return from[random.Next(from.Count)];
    }

    private static string Show(List<byte> text) => System.Text.Encoding.UTF8.GetString(text.ToArray()).Replace("\n", "\\n");

    /// <summary>True when <paramref name="bytes"/>, appended to <paramref name="text"/> (valid UTF-8 so far, possibly
    /// ending inside a character), cannot be the start of valid UTF-8.</summary>
    private static bool NotValidUtf8From(List<byte> text, byte[] bytes)
    {
        int start = text.Count;
        // Back up to the start of an unfinished character at the end of the text.
        for (int k = 1; k <= 3 && start - k >= 0; k++)
        {
            byte b = text[start - k];
            if ((b & 0xC0) != 0x80) { if (b >= 0xC0) start -= k; break; }
        }
        var all = text.Skip(start).Concat(bytes).ToArray();
        // Valid as a prefix: decode; an incomplete final sequence is fine if its bytes so far are allowed.
        int i = 0;
        while (i < all.Length)
        {
            var status = System.Text.Rune.DecodeFromUtf8(all.AsSpan(i), out _, out int used);
            if (status == System.Buffers.OperationStatus.Done) { i += used; continue; }
            if (status == System.Buffers.OperationStatus.NeedMoreData) return false;
            return true;
        }
        return false;
    }
}
