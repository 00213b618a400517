using QwenSharp.Engine;
using QwenSharp.Generation;
using QwenSharp.Model;
using QwenSharp.Tensors;
using QwenSharp.Tests.Model;

namespace QwenSharp.Tests.Engine;

/// <summary>
/// A failure inside the engine ends only the requests it concerns: a throwing sampler or decoder its own sequence,
/// a throwing forward the step's sequences; everyone else keeps going with the output they would have had alone,
/// and the scheduler's books end empty. An engine whose steps keep failing stops and says so.
/// </summary>
public class EngineIsolationTests
{
    private static readonly SamplingParams Greedy = new() { Temperature = 0, MaxTokens = 12, IgnoreEos = true };

    /// <summary>A decoder that throws on a chosen token count; otherwise prints token ids.</summary>
    private sealed class Decoder(int throwAt) : IIncrementalDecoder
    {
        private int _count;
        public string Push(int tokenId) => ++_count == throwAt ? throw new InvalidOperationException("decoder bug") : tokenId + " ";
        public string Flush() => "";
    }

    private static async Task<(int[] Ids, Exception? Error)> Run(InferenceEngine engine, int[] prompt, SamplingParams p, int vocab)
    {
        var ids = new List<int>();
        try
        {
            await foreach (var e in engine.GenerateAsync(prompt, p.Resolve(defaultMaxTokens: p.MaxTokens ?? 12), 0))
                ids.Add(e.TokenId);
            return (ids.ToArray(), null);
        }
        catch (Exception e)
        {
            return (ids.ToArray(), e);
        }
    }

    private static async Task WaitIdle(InferenceEngine engine)
    {
        for (int i = 0; i < 200 && (engine.InFlight > 0 || engine.Stats.KvUsage > 0); i++) await Task.Delay(10);
        Assert.Equal(0, engine.InFlight);
        Assert.Equal(0, engine.Stats.Running);
        Assert.Equal(0, engine.Stats.Waiting);
        Assert.Equal(0, engine.Stats.KvUsage);
    }

    [Fact]
    public async Task A_throwing_decoder_fails_its_sequence_alone()
    {
        using var model = ModelFiles.Load(TinyModels.Gguf("tiny", GgmlType.F32));
        int vocab = model.Config.VocabSize;
        var prompts = Enumerable.Range(0, 4).Select(i => TinyModels.Tokens(6 + i, vocab, seed: 30 + i)).ToArray();
        int[][] solo;
        using (var clean = new InferenceEngine(model, _ => new Decoder(int.MaxValue), new EngineOptions { KvCacheBytes = 4 << 20, EnablePrefixCaching = false }))
            solo = await Task.WhenAll(prompts.Select(async p => (await Run(clean, p, Greedy, vocab)).Ids));

        // The engine makes decoders in admission order; the third sequence's throws at its fifth token.
        int made = 0;
        using var engine = new InferenceEngine(model, _ => new Decoder(Interlocked.Increment(ref made) == 3 ? 5 : int.MaxValue),
            new EngineOptions { KvCacheBytes = 4 << 20, EnablePrefixCaching = false });
        var tasks = new List<Task<(int[] Ids, Exception? Error)>>();
        foreach (var p in prompts)
        {
            tasks.Add(Run(engine, p, Greedy, vocab));
            while (Volatile.Read(ref made) < tasks.Count) await Task.Delay(1); // admitted in this order
        }
        var results = await Task.WhenAll(tasks);
        for (int i = 0; i < 4; i++)
        {
            if (i == 2)
            {
                var error = Assert.IsType<EngineFailedException>(results[i].Error);
                Assert.Equal("decoder bug", error.InnerException!.Message);
                Assert.Equal(4, results[i].Ids.Length); // its first four tokens came out before the failure
                Assert.Equal(solo[i][..4], results[i].Ids);
            }
            else
            {
                Assert.Null(results[i].Error);
                Assert.Equal(solo[i], results[i].Ids);
            }
        }
        await WaitIdle(engine);
        Assert.Null(engine.Fault);
        // And it serves the next request as if nothing happened.
        Assert.Equal(solo[0], (await Run(engine, prompts[0], Greedy, vocab)).Ids);
    }

    [Fact]
    public async Task A_throwing_forward_fails_the_steps_sequences_and_the_engine_serves_on()
    {
        using var model = ModelFiles.Load(TinyModels.Gguf("tiny", GgmlType.F32));
        int vocab = model.Config.VocabSize;
        var prompt = TinyModels.Tokens(8, vocab, seed: 5);
        using var engine = new InferenceEngine(model, _ => new Decoder(int.MaxValue), new EngineOptions { KvCacheBytes = 4 << 20 });
        var alone = await Run(engine, prompt, Greedy, vocab);
        Assert.Null(alone.Error);

        // One step fails (the first with 9 tokens: the victim's prompt), as an out-of-range id once broke the server.
        var victim = TinyModels.Tokens(9, vocab, seed: 6);
        int failures = 0;
        engine.BeforeForward = plan =>
        {
            if (plan.NumTokens == 9 && Interlocked.Increment(ref failures) == 1) throw new IndexOutOfRangeException("kernel bug");
        };
        var failed = await Run(engine, victim, Greedy, vocab);
        Assert.IsType<EngineFailedException>(failed.Error);
        Assert.Empty(failed.Ids);
        await WaitIdle(engine);

        // The scheduler forgot the step: the same prompts run again and give what they gave before.
        var again = await Task.WhenAll(Run(engine, prompt, Greedy, vocab), Run(engine, victim, Greedy, vocab));
        Assert.Null(again[0].Error);
        Assert.Equal(alone.Ids, again[0].Ids);
        Assert.Null(again[1].Error);
        Assert.Equal(12, again[1].Ids.Length);
        Assert.Null(engine.Fault);
        await WaitIdle(engine);
    }

    [Fact]
    public async Task An_engine_whose_steps_keep_failing_stops_and_refuses_new_requests()
    {
        using var model = ModelFiles.Load(TinyModels.Gguf("tiny", GgmlType.F32));
        int vocab = model.Config.VocabSize;
        using var engine = new InferenceEngine(model, _ => new Decoder(int.MaxValue), new EngineOptions { KvCacheBytes = 4 << 20 });
        engine.BeforeForward = _ => throw new InvalidOperationException("broken weights");
        for (int i = 0; i < 20 && engine.Fault is null; i++)
            Assert.IsType<EngineFailedException>((await Run(engine, TinyModels.Tokens(5, vocab, seed: i), Greedy, vocab)).Error);
        Assert.NotNull(engine.Fault);
        Assert.True(engine.Faulted.IsCompleted);
        Assert.Throws<EngineFailedException>(() => engine.GenerateAsync(TinyModels.Tokens(5, vocab), Greedy.Resolve(defaultMaxTokens: 12)));
    }

    [Fact]
    public void Prompt_ids_outside_the_embedding_are_refused_before_anything_runs()
    {
        using var model = ModelFiles.Load(TinyModels.Gguf("tiny", GgmlType.F32));
        using var engine = new InferenceEngine(model, _ => new Decoder(int.MaxValue), new EngineOptions { KvCacheBytes = 4 << 20 });
        int vocab = model.Config.VocabSize;
        foreach (int bad in new[] { -1, vocab, int.MaxValue })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => engine.GenerateAsync([1, bad, 2], Greedy.Resolve(defaultMaxTokens: 12)));
            Assert.Contains(bad.ToString(), e.Message);
            Assert.Contains($"0 to {vocab - 1}", e.Message);
        }
        Assert.Equal(0, engine.InFlight);
    }
}
