namespace QwenSharp.Hub;

/// <summary>The state of one file transfer.</summary>
/// <param name="File">the file's name in its repo (e.g. "qwen2-7b-instruct-q4_k_m.gguf")</param>
/// <param name="Received">bytes on disk so far, resumed part included</param>
/// <param name="Total">the file's size when the server said it</param>
/// <param name="ResumedFrom">bytes that were already on disk when this transfer started (not counted in speed)</param>
/// <param name="Elapsed">time since this transfer started</param>
/// <param name="Done">true once for the last report of a file, after it was verified</param>
public readonly record struct DownloadProgress(string File, long Received, long? Total, long ResumedFrom, TimeSpan Elapsed, bool Done)
{
    /// <summary>Average bytes per second over this transfer.</summary>
    public double BytesPerSecond => Elapsed.TotalSeconds > 0 ? (Received - ResumedFrom) / Elapsed.TotalSeconds : 0;

    /// <summary>Time left at the average speed, when both the size and a speed are known.</summary>
    public TimeSpan? Remaining =>
        Total is { } total && BytesPerSecond > 0 ? TimeSpan.FromSeconds(Math.Max(0, total - Received) / BytesPerSecond) : null;
}
