namespace QwenSharp.Generation.Stages;

/// <summary>OpenAI's logit_bias: a fixed amount added to the logit of chosen ids (ids beyond the vocabulary are ignored).</summary>
public sealed class LogitBiasStage : ILogitsStage
{
    private readonly int[] _ids;
    private readonly float[] _bias;

    public LogitBiasStage(IReadOnlyDictionary<int, double> bias)
    {
        _ids = new int[bias.Count];
        _bias = new float[bias.Count];
        int i = 0;
        foreach (var (id, value) in bias)
        {
            _ids[i] = id;
            _bias[i++] = (float)value;
        }
    }

    public void Apply(Span<float> logits, TokenHistory history)
    {
        for (int i = 0; i < _ids.Length; i++)
            if ((uint)_ids[i] < (uint)logits.Length) logits[_ids[i]] += _bias[i];
    }
}
