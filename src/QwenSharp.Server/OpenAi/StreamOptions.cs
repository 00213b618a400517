namespace QwenSharp.Server.OpenAi;

/// <summary>OpenAI's stream_options; only valid with stream=true (vLLM answers 400 otherwise).</summary>
public static class StreamOptions
{
    /// <summary>Whether a final chunk with usage (and empty choices) is wanted.</summary>
    public static bool Read(RequestFields f, bool stream)
    {
        if (f.Object("stream_options") is not { } o) return false;
        if (!stream) throw ApiException.BadRequest("'stream_options' can only be given when 'stream' is true.", "stream_options");
        bool include = o.Bool("include_usage") ?? false;
        o.Ignore("include_obfuscation"); // OpenAI's random padding field against side channels; the text is the same without it
        if (o.Bool("continuous_usage_stats") == true)
            throw ApiException.BadRequest("'stream_options.continuous_usage_stats' is not supported; usage comes in the final chunk with include_usage.", "stream_options.continuous_usage_stats");
        o.RejectUnread();
        return include;
    }
}
