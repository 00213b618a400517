using System.Text.Json.Serialization;

namespace QwenSharp.Generation;

/// <summary>Why a sequence ended, with OpenAI's and vLLM's wire names.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FinishReason>))]
public enum FinishReason
{
    /// <summary>An eos id, a stop_token_ids entry or a stop string ended it.</summary>
    [JsonStringEnumMemberName("stop")] Stop,
    /// <summary>max_tokens was reached (or the context was full).</summary>
    [JsonStringEnumMemberName("length")] Length,
    /// <summary>The caller cancelled it (vLLM's "abort").</summary>
    [JsonStringEnumMemberName("abort")] Abort,
}

public static class FinishReasonNames
{
    /// <summary>The wire name: "stop", "length" or "abort".</summary>
    public static string ToWireName(this FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => "abort",
    };
}
