using QwenSharp.Formats;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Model;

/// <summary>
/// Small random Qwen2 shapes that exercise every path of the forward pass (GQA ratios 1, 2, 7; tied and
/// untied; odd sizes; YaRN; mixture of experts), written on demand as GGUF or safetensors into one temporary folder per run.
/// </summary>
public static class TinyModels
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "qwensharp-tiny-" + Environment.ProcessId);
    private static readonly object Gate = new();

    public static Qwen2Config Config(string shape) => shape switch
    {
        // GQA 1 (MHA), tied embeddings.
        "tiny" => Make(hidden: 64, heads: 4, kvHeads: 4, layers: 2, inter: 128, vocab: 320, tied: true),
        // Odd sizes: 6 heads of 16, GQA 2, untied, 3 layers.
        "odd" => Make(hidden: 96, heads: 6, kvHeads: 3, layers: 3, inter: 224, vocab: 397, tied: false),
        // GQA 7 as Qwen2-7B (28 heads over 4 KV heads is 7 per group): 7 heads over 1 KV head.
        "gqa7" => Make(hidden: 224, heads: 7, kvHeads: 1, layers: 2, inter: 320, vocab: 300, tied: false),
        // Rows of 256 for K-quants.
        "k256" => Make(hidden: 256, heads: 4, kvHeads: 2, layers: 2, inter: 512, vocab: 288, tied: true),
        // YaRN with a small original context so that a 64-token sequence runs past it.
        "yarn" => Make(hidden: 128, heads: 4, kvHeads: 2, layers: 2, inter: 256, vocab: 300, tied: true) with
        {
            MaxPositionEmbeddings = 256,
            RopeScaling = new RopeScaling(RopeScaling.Yarn, 4.0, 32),
        },
        // Qwen2-7B-Instruct's card rope_scaling (YaRN, factor 4 over an original 32,768) on a shape so small that a
        // 33k-token prefill is cheap: one head of 64 (its 32 pairs span YaRN's whole ramp, pairs 11 to 20), one layer.
        "yarn32k" => Make(hidden: 64, heads: 1, kvHeads: 1, layers: 1, inter: 64, vocab: 260, tied: true) with
        {
            MaxPositionEmbeddings = 32768,
            RopeScaling = new RopeScaling(RopeScaling.Yarn, 4.0, 32768),
        },
        // A shape's twin without rope_scaling: the same weights (they depend on the sizes and the seed only).
        _ when shape.EndsWith("-norope", StringComparison.Ordinal) => Config(shape[..^"-norope".Length]) with { RopeScaling = null },
        // Qwen2-MoE (untied, as llama.cpp's qwen2moe requires an output matrix): 8 experts, 4 per token, rows of 256 for
        // K-quants in every expert and shared-expert matrix.
        "moe" => Moe(Make(hidden: 256, heads: 4, kvHeads: 2, layers: 2, inter: 512, vocab: 300, tied: false), experts: 8, topK: 4, moe: 256, shared: 512),
        // Odd sizes: 6 experts of 48, top 2, shared expert of 80, GQA 2, 3 layers.
        "moe-odd" => Moe(Make(hidden: 96, heads: 6, kvHeads: 3, layers: 3, inter: 160, vocab: 397, tied: false), experts: 6, topK: 2, moe: 48, shared: 80),
        // What only Hugging Face runs: renormalised top-k, a dense layer by mlp_only_layers and one by decoder_sparse_step 2.
        "moe-hf" => Moe(Make(hidden: 64, heads: 4, kvHeads: 2, layers: 4, inter: 96, vocab: 320, tied: true), experts: 5, topK: 3, moe: 32, shared: 48) with
        {
            NormTopkProb = true,
            DecoderSparseStep = 2,
            MlpOnlyLayers = [3],
        },
        _ => throw new ArgumentException(shape),
    };

    private static Qwen2Config Moe(Qwen2Config dense, int experts, int topK, int moe, int shared) => dense with
    {
        Architectures = [Qwen2Config.MoeArchitecture],
        ModelType = "qwen2_moe",
        NumExperts = experts,
        NumExpertsPerTok = topK,
        MoeIntermediateSize = moe,
        SharedExpertIntermediateSize = shared,
        DecoderSparseStep = 1,
        NormTopkProb = false,
    };

    private static Qwen2Config Make(int hidden, int heads, int kvHeads, int layers, int inter, int vocab, bool tied) => new()
    {
        Origin = "tiny",
        HiddenSize = hidden,
        NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads,
        NumHiddenLayers = layers,
        IntermediateSize = inter,
        VocabSize = vocab,
        TieWordEmbeddings = tied,
        MaxPositionEmbeddings = 4096,
        RopeTheta = 1000000.0,
        RmsNormEps = 1e-6,
        EosTokenIds = [vocab - 1],
        BosTokenId = vocab - 1,
    };

    /// <summary>The GGUF file of <paramref name="shape"/> in <paramref name="type"/>, written once per run.</summary>
    public static string Gguf(string shape, GgmlType type, ulong seed = 7)
    {
        string path = Path.Combine(Root, $"{shape}-{type}-{seed}.gguf");
        lock (Gate)
        {
            if (!File.Exists(path))
            {
                Directory.CreateDirectory(Root);
                var config = Config(shape);
                RandomModel.WriteGguf(config, path + ".tmp", type, seed, GgufTokenizerExport.BytesOnly(config.VocabSize));
                File.Move(path + ".tmp", path);
            }
        }
        return path;
    }

    /// <summary>The Hugging Face folder twin of <see cref="Gguf"/> (same seed, same values).</summary>
    public static string Folder(string shape, GgmlType type, ulong seed = 7, long maxShardBytes = 5L << 30)
    {
        string path = Path.Combine(Root, $"{shape}-{type}-{seed}-{maxShardBytes}");
        lock (Gate)
        {
            if (!Directory.Exists(path))
            {
                RandomModel.WriteFolder(Config(shape), path + ".tmp", type, seed, null, null, maxShardBytes);
                Directory.Move(path + ".tmp", path);
            }
        }
        return path;
    }

    /// <summary>A reproducible token sequence over the vocabulary.</summary>
    public static int[] Tokens(int count, int vocab, int seed = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }

    /// <summary>Our logits at every position of <paramref name="tokens"/>: [tokens, vocab].</summary>
    public static float[][] Logits(Qwen2Model model, int[] tokens, KvCacheType cacheType = KvCacheType.F32, RopeMode rope = RopeMode.Yarn) =>
        Logits(model, tokens, 0, cacheType, rope);

    /// <summary>Our logits at the positions of <paramref name="tokens"/> from <paramref name="firstLogit"/> on, [tokens -
    /// firstLogit, vocab]: the positions before it are prefilled in chunks of 2,048 that ask for no logits.</summary>
    public static float[][] Logits(Qwen2Model model, int[] tokens, int firstLogit, KvCacheType cacheType = KvCacheType.F32, RopeMode rope = RopeMode.Yarn)
    {
        var cache = KvCache.For(model.Config, tokens.Length, type: cacheType);
        var table = cache.ContiguousBlockTable(tokens.Length);
        for (int start = 0; start < firstLogit; start += 2048)
            model.Forward(new ForwardBatch().Add(tokens.AsMemory(start, Math.Min(2048, firstLogit - start)), start, table, LogitsWanted.None, rope), cache);
        var batch = new ForwardBatch().Add(tokens.AsMemory(firstLogit), firstLogit, table, LogitsWanted.All, rope);
        var logits = model.Forward(batch, cache);
        int vocab = model.Config.VocabSize;
        var rows = new float[tokens.Length - firstLogit][];
        for (int i = 0; i < rows.Length; i++) rows[i] = logits.Slice(i * vocab, vocab).ToArray();
        return rows;
    }

    /// <summary>Our logits at every position, computed one token per step (decode) over a cache of <paramref name="cacheType"/>
    /// in blocks of 16.</summary>
    public static float[][] DecodeLogits(Qwen2Model model, int[] tokens, KvCacheType cacheType)
    {
        var cache = KvCache.For(model.Config, tokens.Length, type: cacheType);
        var table = cache.ContiguousBlockTable(tokens.Length);
        var rows = new float[tokens.Length][];
        for (int i = 0; i < tokens.Length; i++)
            rows[i] = model.Forward(new ForwardBatch().Add(tokens.AsMemory(i, 1), i, table), cache).ToArray();
        return rows;
    }

    /// <summary>max |a − b| over all positions, and max |b| (the reference's scale).</summary>
    public static (double MaxDiff, double MaxRef) Compare(float[][] ours, float[][] reference)
    {
        double diff = 0, scale = 0;
        for (int i = 0; i < ours.Length; i++)
            for (int v = 0; v < ours[i].Length; v++)
            {
                diff = Math.Max(diff, Math.Abs(ours[i][v] - reference[i][v]));
                scale = Math.Max(scale, Math.Abs(reference[i][v]));
            }
        return (diff, scale);
    }
}
