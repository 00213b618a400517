namespace QwenSharp.Generation;

/// <summary>
/// Vocabulary-sized buffers the stages and the sampler work in, allocated once and reused for every token.
/// One scratch may serve many sequences that are sampled one after another on the same thread.
/// </summary>
public sealed class SamplingScratch
{
    /// <summary>The logits being processed (a copy of the model's row).</summary>
    public float[] Logits { get; private set; } = [];
    /// <summary>Probabilities or weights.</summary>
    public float[] Values { get; private set; } = [];
    /// <summary>Sort keys for ranked tokens.</summary>
    public float[] Keys { get; private set; } = [];
    /// <summary>Token ids being ranked.</summary>
    public int[] Indices { get; private set; } = [];

    /// <summary>Grows the buffers to hold <paramref name="vocabularySize"/> entries (only the first call per size allocates).</summary>
    public void EnsureCapacity(int vocabularySize)
    {
        if (Logits.Length >= vocabularySize) return;
        Logits = new float[vocabularySize];
        Values = new float[vocabularySize];
        Keys = new float[vocabularySize];
        Indices = new int[vocabularySize];
    }
}
