using System.Text;
using System.Text.Json;
using QwenSharp.Formats;
using QwenSharp.Generation;
using QwenSharp.Generation.Stages;

namespace QwenSharp.Tests.Generation;

public class GenerationStateTests
{
    /// <summary>Logits that make <paramref name="id"/> the clear winner (greedy picks it).</summary>
    private static float[] Pick(int vocabulary, int id)
    {
        float[] logits = new float[vocabulary];
        logits[id] = 10f;
        return logits;
    }

    private static ResolvedSamplingParams Greedy(int maxTokens = 16, string[]? stop = null, int[]? eos = null) =>
        new SamplingParams { Temperature = 0, MaxTokens = maxTokens, Stop = stop }.Resolve(fallbackEosTokenIds: eos ?? []);

    /// <summary>Runs the state over a script of forced tokens; returns the deltas.</summary>
    private static List<string> Run(GenerationState state, int vocabulary, params int[] script)
    {
        var deltas = new List<string>();
        foreach (int id in script)
        {
            var step = state.Accept(Pick(vocabulary, id));
            Assert.Equal(id, step.TokenId);
            deltas.Add(step.TextDelta);
            if (step.IsFinished) break;
        }
        return deltas;
    }

    [Fact]
    public void EosEndsTheSequenceAndStaysOutOfTheText()
    {
        var decoder = FakeDecoder.FromStrings("Hel", "lo", "<|im_end|>");
        var state = new GenerationState(Greedy(eos: [2]), [0, 1], decoder);
        var deltas = Run(state, 3, 0, 1, 2);
        Assert.Equal(["Hel", "lo", ""], deltas);
        var result = state.ToResult();
        Assert.Equal("Hello", result.Text);
        Assert.Equal(FinishReason.Stop, result.FinishReason);
        Assert.Equal(2, result.StopTokenId);
        Assert.Null(result.StopString);
        Assert.Equal([0, 1, 2], result.TokenIds);
        Assert.Equal(2, result.PromptTokens);
        Assert.Equal(3, result.CompletionTokens);
        Assert.DoesNotContain(2, decoder.Pushed);
    }

    [Fact]
    public void MaxTokensEndsWithLength()
    {
        var state = new GenerationState(Greedy(maxTokens: 2, eos: [2]), [], FakeDecoder.FromStrings("a", "b", "<eos>"));
        Run(state, 3, 0, 1);
        Assert.Equal(FinishReason.Length, state.FinishReason);
        Assert.Equal("ab", state.Text);
        Assert.Throws<InvalidOperationException>(() => state.Accept(Pick(3, 0)));
    }

    [Fact]
    public void AStopStringSplitAcrossTokensNeverLeaks()
    {
        var state = new GenerationState(Greedy(stop: ["<stop>"]), [], FakeDecoder.FromStrings("Hi", " <", "st", "op>", " more"));
        var deltas = Run(state, 5, 0, 1, 2, 3, 4);
        Assert.Equal(["Hi", " ", "", ""], deltas);
        Assert.Equal(FinishReason.Stop, state.FinishReason);
        Assert.Equal("<stop>", state.StopString);
        Assert.Equal("Hi ", state.ToResult().Text);
        Assert.Equal([0, 1, 2, 3], state.ToResult().TokenIds); // the token completing the stop is kept, as vLLM
    }

    [Fact]
    public void IncludeStopStrInOutputKeepsIt()
    {
        var p = new SamplingParams { Temperature = 0, Stop = ["<stop>"], IncludeStopStrInOutput = true }.Resolve();
        var state = new GenerationState(p, [], FakeDecoder.FromStrings("Hi", " <", "st", "op> more"));
        Run(state, 4, 0, 1, 2, 3);
        Assert.Equal("Hi <stop>", state.Text);
    }

    [Fact]
    public void StreamedTextAlwaysEqualsTheWholeTextCutAtTheFirstStop()
    {
        // Random token streams over pieces full of stop-string fragments, against a whole-text reference:
        // decode everything, cut at the first stop string; streaming must give exactly that, piece by piece.
        string[] pieces = ["a", "b", "ab", "ba", "<", "/", "s>", "</", "s", ">", "x", "é", "ab</s"];
        string[] stops = ["</s>", "bab"];
        var rng = new Random(77);
        for (int trial = 0; trial < 500; trial++)
        {
            int[] script = [.. Enumerable.Range(0, 12).Select(_ => rng.Next(pieces.Length))];
            var state = new GenerationState(Greedy(maxTokens: 12, stop: stops), [], FakeDecoder.FromStrings(pieces));
            var streamed = new StringBuilder();
            int used = 0;
            foreach (int id in script)
            {
                var step = state.Accept(Pick(pieces.Length, id));
                used++;
                streamed.Append(step.TextDelta);
                foreach (var s in stops) Assert.DoesNotContain(s, streamed.ToString());
                if (step.IsFinished) break;
            }

            string whole = string.Concat(script.Select(i => pieces[i]));
            int cut = stops.Select(s => whole.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
            string expectedText = cut >= 0 ? whole[..cut] : whole;
            int expectedTokens = cut >= 0 ? TokensToCover(script, pieces, cut + stops.Where(s => whole.IndexOf(s, StringComparison.Ordinal) == cut).Max(s => s.Length)) : 12;
            Assert.Equal(expectedText, streamed.ToString());
            Assert.Equal(expectedText, state.ToResult().Text);
            Assert.Equal(expectedTokens, used);
            Assert.Equal(cut >= 0 ? FinishReason.Stop : FinishReason.Length, state.FinishReason);
        }
    }

    /// <summary>How many tokens of the script it takes for the text to reach <paramref name="length"/> characters.</summary>
    private static int TokensToCover(int[] script, string[] pieces, int length)
    {
        int chars = 0;
        for (int i = 0; i < script.Length; i++)
        {
            chars += pieces[script[i]].Length;
            if (chars >= length) return i + 1;
        }
        return script.Length;
    }

    [Fact]
    public void MultiByteCharactersComeOutWhole()
    {
        // U+1F600 is F0 9F 98 80 in UTF-8, split over two tokens; "é" (C3 A9) split the same way.
        var pieces = new Dictionary<int, byte[]>
        {
            [0] = [0xF0, 0x9F], [1] = [0x98, 0x80], [2] = "!"u8.ToArray(), [3] = [0xC3], [4] = [0xA9],
        };
        var state = new GenerationState(Greedy(maxTokens: 5), [], new FakeDecoder(pieces));
        var deltas = Run(state, 5, 0, 1, 2, 3, 4);
        Assert.Equal(["", "\U0001F600", "!", "", "é"], deltas);
    }

    [Fact]
    public void AnIncompleteCharacterAtLengthIsFlushed()
    {
        var pieces = new Dictionary<int, byte[]> { [0] = "a"u8.ToArray(), [1] = [0xF0, 0x9F] };
        var state = new GenerationState(Greedy(maxTokens: 2), [], new FakeDecoder(pieces));
        var deltas = Run(state, 2, 0, 1);
        Assert.Equal("a", deltas[0]);
        Assert.Equal(FinishReason.Length, state.FinishReason);
        Assert.Equal(Encoding.UTF8.GetString([0xF0, 0x9F]), deltas[1]); // what the decoder's Flush gives
    }

    [Fact]
    public void HeldTextIsReleasedWhenLengthEndsTheSequence()
    {
        var state = new GenerationState(Greedy(maxTokens: 2, stop: ["END"]), [], FakeDecoder.FromStrings("a", "E"));
        var deltas = Run(state, 2, 0, 1);
        Assert.Equal(["a", "E"], deltas);
        Assert.Equal("aE", state.Text);
    }

    [Fact]
    public void IgnoreEosKeepsGoing()
    {
        var p = new SamplingParams { Temperature = 0, MaxTokens = 3, IgnoreEos = true }.Resolve(new GenerationConfig { EosTokenIds = [1] });
        var state = new GenerationState(p, [], FakeDecoder.FromStrings("x", "<eos>"));
        Run(state, 2, 1, 0, 1);
        Assert.Equal(FinishReason.Length, state.FinishReason);
        Assert.Equal(3, state.CompletionTokens);
    }

    [Fact]
    public void StopTokenIdsStopAndAreDecodedOnlyWhenIncluded()
    {
        var p = new SamplingParams { Temperature = 0, StopTokenIds = [1] }.Resolve();
        var state = new GenerationState(p, [], FakeDecoder.FromStrings("x", "#"));
        Run(state, 2, 0, 1);
        Assert.Equal(FinishReason.Stop, state.FinishReason);
        Assert.Equal(1, state.StopTokenId);
        Assert.Equal("x", state.Text);

        var included = new GenerationState(p with { IncludeStopStrInOutput = true }, [], FakeDecoder.FromStrings("x", "#"));
        Run(included, 2, 0, 1);
        Assert.Equal("x#", included.Text);
    }

    [Fact]
    public void MinTokensKeepsEosAwayUntilReached()
    {
        var p = new SamplingParams { Temperature = 0, MinTokens = 2 }.Resolve(new GenerationConfig { EosTokenIds = [0] });
        var state = new GenerationState(p, [], FakeDecoder.FromStrings("<eos>", "a"));
        float[] logits = [10f, 5f]; // eos is always the favourite
        Assert.Equal(1, state.Accept(logits).TokenId);
        Assert.Equal(1, state.Accept(logits).TokenId);
        var third = state.Accept(logits);
        Assert.Equal(0, third.TokenId);
        Assert.Equal(FinishReason.Stop, third.Finish);
        Assert.Equal("aa", state.Text);
    }

    [Fact]
    public void StopStringsCountOnlyAfterMinTokens()
    {
        var p = new SamplingParams { Temperature = 0, MinTokens = 2, MaxTokens = 5, Stop = ["x"] }.Resolve();
        var state = new GenerationState(p, [], FakeDecoder.FromStrings("x", "y"));
        Run(state, 2, 0, 1, 0);
        Assert.Equal(FinishReason.Stop, state.FinishReason);
        Assert.Equal(3, state.CompletionTokens);
        Assert.Equal("xy", state.Text);
    }

    [Fact]
    public void RepetitionPenaltyCountsThePrompt()
    {
        float[] logits = [2f, 1.5f];
        var plain = new GenerationState(new SamplingParams { Temperature = 0 }.Resolve(), [0], FakeDecoder.FromStrings("a", "b"));
        Assert.Equal(0, plain.Accept(logits).TokenId);
        var penalised = new GenerationState(new SamplingParams { Temperature = 0, RepetitionPenalty = 2 }.Resolve(), [0], FakeDecoder.FromStrings("a", "b"));
        Assert.Equal(1, penalised.Accept(logits).TokenId); // 2 / 2 = 1 < 1.5
    }

    [Fact]
    public void LogprobsAreOfTheRawLogitsEvenWhenPenalised()
    {
        var p = new SamplingParams { Temperature = 0, RepetitionPenalty = 2, Logprobs = 1, MaxTokens = 1 }.Resolve();
        var state = new GenerationState(p, [0], FakeDecoder.FromStrings("a", "b"));
        double[] probs = [0.6, 0.4];
        float[] logits = [.. probs.Select(x => (float)Math.Log(x))];
        var step = state.Accept(logits);
        Assert.Equal(1, step.TokenId); // ln 0.6 < 0 is multiplied by 2, so 1 wins
        Assert.Equal(Math.Log(0.4), step.Logprob!.Logprob, 5);
        Assert.Equal(2, step.Logprob.Rank);
        Assert.Equal(0, step.Logprob.TopLogprobs[0].TokenId);
        Assert.Single(state.ToResult().Logprobs!);
    }

    private static float[][] RandomLogits(int steps, int vocabulary, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, steps).Select(_ => Enumerable.Range(0, vocabulary).Select(_ => (float)(rng.NextDouble() * 4)).ToArray())];
    }

    private static int[] Sample(ResolvedSamplingParams p, float[][] logits, int sequenceIndex = 0)
    {
        var state = new GenerationState(p, [1, 2, 3], FakeDecoder.FromStrings([.. Enumerable.Range(0, logits[0].Length).Select(i => $"<{i}>")]), sequenceIndex);
        return [.. logits.Select(l => state.Accept(l).TokenId)];
    }

    [Fact]
    public void SameSeedSameTokensDifferentSeedDifferentTokens()
    {
        var logits = RandomLogits(40, 50, 3);
        var p = new SamplingParams { Temperature = 0.9, TopK = 10, TopP = 0.95, MinP = 0.02, RepetitionPenalty = 1.1, PresencePenalty = 0.3, FrequencyPenalty = 0.2, Seed = 1234, MaxTokens = 40 }.Resolve();
        int[] first = Sample(p, logits);
        Assert.Equal(first, Sample(p, logits));
        Assert.NotEqual(first, Sample(p with { Seed = 1235 }, logits));
        Assert.NotEqual(first, Sample(p, logits, sequenceIndex: 1));
        Assert.Equal(Sample(p, logits, sequenceIndex: 1), Sample(p, logits, sequenceIndex: 1));
    }

    [Fact]
    public void WithoutSeedTheDrawnSeedIsReportedAndReproduces()
    {
        var logits = RandomLogits(30, 50, 4);
        var p = new SamplingParams { Temperature = 1.0, MaxTokens = 30 }.Resolve();
        var state = new GenerationState(p, [], FakeDecoder.FromStrings([.. Enumerable.Range(0, 50).Select(i => $"<{i}>")]));
        int[] tokens = [.. logits.Select(l => state.Accept(l).TokenId)];
        Assert.Equal(tokens, SampleFromEmptyPrompt(p with { Seed = state.Seed }, logits));
    }

    private static int[] SampleFromEmptyPrompt(ResolvedSamplingParams p, float[][] logits)
    {
        var state = new GenerationState(p, [], FakeDecoder.FromStrings([.. Enumerable.Range(0, 50).Select(i => $"<{i}>")]));
        return [.. logits.Select(l => state.Accept(l).TokenId)];
    }

    [Fact]
    public void TopKOneIsGreedy()
    {
        var logits = RandomLogits(20, 30, 5);
        var sampled = new SamplingParams { Temperature = 1.5, TopK = 1, Seed = 9, MaxTokens = 20 }.Resolve();
        var greedy = new SamplingParams { Temperature = 0, MaxTokens = 20 }.Resolve();
        Assert.Equal(Sample(greedy, logits), Sample(sampled, logits));
    }

    [Fact]
    public void TheChainFollowsTheOrderAndSkipsNoOps()
    {
        var config = GenerationConfig.Load(Fixtures.Config("qwen2-7b-instruct.generation_config.json"));
        var sampled = new SamplingPipeline(new SamplingParams().Resolve(config));
        Assert.Equal([typeof(RepetitionPenaltyStage), typeof(TemperatureStage), typeof(TopKStage), typeof(TopPStage)], sampled.Stages.Select(s => s.GetType()));
        var all = new SamplingPipeline(new SamplingParams
        {
            RepetitionPenalty = 1.1, PresencePenalty = 0.1, LogitBias = new Dictionary<int, double> { [0] = 1 }, MinTokens = 1,
            Temperature = 0.5, TopK = 3, TopP = 0.9, MinP = 0.1,
        }.Resolve());
        Assert.Equal([typeof(RepetitionPenaltyStage), typeof(PresenceFrequencyPenaltyStage), typeof(LogitBiasStage), typeof(MinTokensStage),
            typeof(TemperatureStage), typeof(TopKStage), typeof(TopPStage), typeof(MinPStage)], all.Stages.Select(s => s.GetType()));
        var greedy = new SamplingPipeline(new SamplingParams { Temperature = 0 }.Resolve(config));
        Assert.Equal([typeof(RepetitionPenaltyStage)], greedy.Stages.Select(s => s.GetType()));
    }

    [Fact]
    public void FinishFromOutsideFlushesAndEndsOnce()
    {
        var state = new GenerationState(Greedy(stop: ["END"]), [], FakeDecoder.FromStrings("a", "EN"));
        Run(state, 2, 0, 1);
        Assert.Equal("a", state.Text);
        Assert.Equal("EN", state.Finish(FinishReason.Abort));
        Assert.Equal(FinishReason.Abort, state.FinishReason);
        Assert.Equal("", state.Finish(FinishReason.Length));
        Assert.Equal(FinishReason.Abort, state.FinishReason);
    }

    [Fact]
    public void LogitBiasOutsideTheVocabularyIsRefusedAtStart()
    {
        var p = new SamplingParams { LogitBias = new Dictionary<int, double> { [5] = 1 } }.Resolve();
        Assert.Throws<SamplingParameterException>(() => new GenerationState(p, [], FakeDecoder.FromStrings("a"), vocabularySize: 5));
    }

    [Fact]
    public void ResultSerializesWithWireNames()
    {
        var state = new GenerationState(Greedy(eos: [1]), [0, 0], FakeDecoder.FromStrings("a", "<eos>"));
        Run(state, 2, 0, 1);
        using var json = JsonDocument.Parse(state.ToResult().ToJson());
        var root = json.RootElement;
        Assert.Equal("stop", root.GetProperty("finish_reason").GetString());
        Assert.Equal("a", root.GetProperty("text").GetString());
        Assert.Equal(2, root.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(2, root.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(0.0, root.GetProperty("parameters").GetProperty("temperature").GetDouble());
        Assert.Equal(1, root.GetProperty("stop_token_id").GetInt32());
    }
}
