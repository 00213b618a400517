using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using QwenSharp.Server.Backend;
using QwenSharp.Server.OpenAi;

namespace QwenSharp.Server;

/// <summary>One event of one choice of a request.</summary>
public readonly record struct ChoiceEvent(int Choice, BackendEvent Event);

/// <summary>
/// Runs the sequences of one request (n choices × prompts) side by side and yields their events as they come,
/// recording TTFT, inter-token latency and token counts. Leaving the enumeration early (client gone, error)
/// cancels every sequence and waits for the backend to let go of them.
/// </summary>
public static class GenerationRun
{
    public static async IAsyncEnumerable<ChoiceEvent> RunAsync(ServingContext ctx, IReadOnlyList<BackendRequest> requests,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var channel = Channel.CreateUnbounded<ChoiceEvent>(new UnboundedChannelOptions { SingleReader = true });
        var producers = new Task[requests.Count];
        int remaining = requests.Count;
        for (int i = 0; i < requests.Count; i++)
        {
            int choice = i;
            producers[i] = Task.Run(async () =>
            {
                try
                {
                    await Produce(ctx, requests[choice], choice, channel.Writer, cts.Token);
                    if (Interlocked.Decrement(ref remaining) == 0) channel.Writer.TryComplete();
                }
                catch (Exception e)
                {
                    channel.Writer.TryComplete(e);
                }
            }, CancellationToken.None);
        }

        try
        {
            await foreach (var ev in channel.Reader.ReadAllAsync(cancellationToken))
                yield return ev;
        }
        finally
        {
            cts.Cancel();
            try { await Task.WhenAll(producers); }
            catch (Exception) { /* producers report through the channel; nothing left to tell. */ }
        }
    }

    private static async Task Produce(ServingContext ctx, BackendRequest request, int choice, ChannelWriter<ChoiceEvent> writer,
        CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan last = TimeSpan.Zero;
        bool first = true;
        bool finished = false;
        IAsyncEnumerable<BackendEvent> events;
        try { events = ctx.Backend.Generate(request, ct); }
        catch (RequestRejectedException e) { throw ApiException.From(e); }

        await using var enumerator = events.GetAsyncEnumerator(ct);
        while (true)
        {
            bool more;
            try { more = await enumerator.MoveNextAsync(); }
            catch (RequestRejectedException ex) { throw ApiException.From(ex); }
            if (!more) break;
            var ev = enumerator.Current;
            if (finished) throw new InvalidOperationException($"The backend sent an event after finishing sequence {request.RequestId}.");
            switch (ev)
            {
                case TokenDelta:
                    var now = clock.Elapsed;
                    if (first) ctx.Metrics.ObserveTimeToFirstToken(now);
                    else ctx.Metrics.ObserveInterTokenLatency(now - last);
                    first = false;
                    last = now;
                    break;
                case GenerationFinished f:
                    finished = true;
                    ctx.Metrics.ObserveFinished(f.Reason, f.PromptTokens, f.CompletionTokens, clock.Elapsed);
                    break;
            }
            writer.TryWrite(new ChoiceEvent(choice, ev));
        }
        ct.ThrowIfCancellationRequested();
        if (!finished) throw new InvalidOperationException($"The backend ended sequence {request.RequestId} without a finish event.");
    }
}
