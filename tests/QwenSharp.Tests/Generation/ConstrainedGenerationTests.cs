using System.Text.Json.Nodes;
using QwenSharp.Engine;
using QwenSharp.Generation;
using QwenSharp.Grammar;
using QwenSharp.Text;

namespace QwenSharp.Tests.Generation;

/// <summary>
/// "Valid whatever the weights": <see cref="GenerationState"/> sampling at temperature 1 from random logits (any
/// weights give some logits) over the real Qwen2 vocabulary, constrained by a schema's grammar. Every output that
/// ends with "stop" must validate against its schema by an independent validator (JsonSchema.Net); an output cut by
/// max_tokens must say "length".
/// </summary>
public sealed class ConstrainedGenerationTests
{
    private const int Logits = 151_936;
    private static readonly Lazy<(Qwen2Tokenizer Tokenizer, GrammarVocabulary Vocabulary)> s_vocab = new(() =>
    {
        var tokenizer = Qwen2Tokenizer.FromTokenizerJson(Fixtures.Path("qwen2-tokenizer/tokenizer.json"));
        return (tokenizer, GrammarVocabulary.FromTokenizer(tokenizer, Logits, [151645, 151643]));
    });

    private static GenerationResult Generate(CompiledGrammar grammar, int seed, int maxTokens)
    {
        var (tokenizer, _) = s_vocab.Value;
        var parameters = new SamplingParams { Temperature = 1.0, Seed = seed, MaxTokens = maxTokens }
            .Resolve(fallbackEosTokenIds: [151645, 151643]) with { Grammar = grammar };
        var state = new GenerationState(parameters, [1, 2, 3], new DetokenizerDecoder(tokenizer, true), vocabularySize: Logits);
        var random = new Random(seed);
        var logits = new float[Logits];
        while (!state.IsFinished)
        {
            // Logits spread over 8 nats: the likeliest tokens stand out by e^8 over the least, as trained weights make them.
            for (int i = 0; i < logits.Length; i++) logits[i] = random.NextSingle() * 8;
            state.Accept(logits);
        }
        return state.ToResult();
    }

    [Fact]
    public void Fifty_random_schemas_times_five_seeds_give_valid_documents()
    {
        var vocabulary = s_vocab.Value.Vocabulary;
        int stopped = 0, cut = 0;
        var failures = new List<string>();
        for (int s = 0; s < 50; s++)
        {
            var schema = RandomSchemas.Make(s);
            var grammar = CompiledGrammar.Compile(JsonSchemaGrammar.ToGbnf(schema), vocabulary);
            var validator = Json.Schema.JsonSchema.FromText(schema.ToJsonString());
            for (int seed = 0; seed < 5; seed++)
            {
                var result = Generate(grammar, 1000 * s + seed, 256);
                if (result.FinishReason == FinishReason.Length)
                {
                    cut++;
                    continue;
                }
                Assert.Equal(FinishReason.Stop, result.FinishReason);
                stopped++;
                JsonNode? document;
                try { document = JsonNode.Parse(result.Text); }
                catch (System.Text.Json.JsonException e) { failures.Add($"schema {s} seed {seed}: not JSON ({e.Message}): {result.Text}"); continue; }
                var evaluation = validator.Evaluate(document, new Json.Schema.EvaluationOptions { OutputFormat = Json.Schema.OutputFormat.List });
                if (!evaluation.IsValid) failures.Add($"schema {s} seed {seed}: invalid {result.Text} against {schema.ToJsonString()}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(5)));
        // Most documents finish within 256 tokens; the rest were cut and said so.
        Assert.True(stopped >= 200, $"only {stopped} of 250 finished ({cut} cut by max_tokens)");
    }

    [Fact]
    public void A_document_cut_by_max_tokens_finishes_with_length_never_stop()
    {
        var schema = JsonNode.Parse("""{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}""")!;
        var grammar = CompiledGrammar.Compile(JsonSchemaGrammar.ToGbnf(schema), s_vocab.Value.Vocabulary);
        for (int seed = 0; seed < 5; seed++)
        {
            var result = Generate(grammar, seed, 2);
            Assert.Equal(FinishReason.Length, result.FinishReason);
            Assert.ThrowsAny<System.Text.Json.JsonException>(() => JsonNode.Parse(result.Text));
        }
    }
}
