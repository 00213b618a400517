using System.Numerics.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// Causal scaled-dot-product attention of one query token over a paged KV cache, with grouped-query
/// attention: query head h reads KV head h / (heads / kvHeads). Each KV head's keys and values are walked once
/// for its whole group of query heads.
/// softmax(q·kᵀ / √d) · v, the max subtracted before exp as every reference does.
/// </summary>
public static class Attention
{
    /// <param name="query">[heads, headDim] of the query token (already rotated)</param>
    /// <param name="keys">a layer's keys, [blocks, blockSize, kvHeads, headDim]</param>
    /// <param name="values">a layer's values, same layout</param>
    /// <param name="blockTable">the sequence's blocks, in position order</param>
    /// <param name="length">number of positions attended (the query's position + 1)</param>
    /// <param name="scores">scratch of at least [heads / kvHeads, length]</param>
    /// <param name="output">[heads, headDim]</param>
    public static void Causal(ReadOnlySpan<float> query, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        ReadOnlySpan<int> blockTable, int blockSize, int heads, int kvHeads, int headDim, int length,
        Span<float> scores, Span<float> output)
    {
        int group = heads / kvHeads;
        float scale = 1f / MathF.Sqrt(headDim);
        int stride = kvHeads * headDim;
        if (scores.Length < group * length)
            throw new ArgumentException($"Attention scratch holds {scores.Length} scores; {group * length} are needed.");

        for (int kvh = 0; kvh < kvHeads; kvh++)
        {
            // Scores of the whole group, key by key: each key row is read once for the group.
            for (int j = 0; j < length; j++)
            {
                int slot = blockTable[j / blockSize] * blockSize + j % blockSize;
                var key = keys.Slice(slot * stride + kvh * headDim, headDim);
                for (int g = 0; g < group; g++)
                {
                    var q = query.Slice((kvh * group + g) * headDim, headDim);
                    scores[g * length + j] = TensorPrimitives.Dot(q, key) * scale;
                }
            }
            for (int g = 0; g < group; g++)
                Softmax(scores.Slice(g * length, length));

            for (int g = 0; g < group; g++)
                output.Slice((kvh * group + g) * headDim, headDim).Clear();
            for (int j = 0; j < length; j++)
            {
                int slot = blockTable[j / blockSize] * blockSize + j % blockSize;
                var value = values.Slice(slot * stride + kvh * headDim, headDim);
                for (int g = 0; g < group; g++)
                {
                    var o = output.Slice((kvh * group + g) * headDim, headDim);
                    TensorPrimitives.MultiplyAdd(value, scores[g * length + j], o, o);
                }
            }
        }
    }

    private static void Softmax(Span<float> x)
    {
        float max = TensorPrimitives.Max(x);
        float sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float e = MathF.Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        TensorPrimitives.Divide(x, sum, x);
    }
}
