using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace QwenSharp.Bench;

/// <summary>
/// Issue 14's soak: many concurrent streaming clients against a `qwensharp serve` process for minutes, a share of them
/// hanging up mid-stream, over the OpenAI chat, completions and Ollama chat routes. Passes when no request failed
/// (every status 200, no error event, no error line in the server's log), the server's resident memory at the end
/// is within 10% of its size after the warm-up, and no request or KV block is left held.
/// usage: soak -m model.gguf [--clients 64] [--minutes 10] [--warmup 60] [--disconnect 0.3] [--seed 1]
/// </summary>
public sealed class ServeSoak : IBenchmark
{
    public string Name => "soak";
    public string Summary => "Concurrent streams with random disconnects against a serve process: errors, RSS drift, KV left held.";

    private int _requests, _disconnects, _errors, _tokens;
    private readonly List<string> _errorSamples = new();

    public int Run(string[] args)
    {
        string model = Arg(args, "-m") ?? throw new ArgumentException("-m <model> is required");
        int clients = int.Parse(Arg(args, "--clients") ?? "64", CultureInfo.InvariantCulture);
        double minutes = double.Parse(Arg(args, "--minutes") ?? "10", CultureInfo.InvariantCulture);
        double warmup = double.Parse(Arg(args, "--warmup") ?? "60", CultureInfo.InvariantCulture);
        double disconnectShare = double.Parse(Arg(args, "--disconnect") ?? "0.3", CultureInfo.InvariantCulture);
        int seed = int.Parse(Arg(args, "--seed") ?? "1", CultureInfo.InvariantCulture);

        using var server = new ServerProcess(model, "--served-model-name", "soak", "--max-num-seqs", "16");
        Console.WriteLine($"soak: {clients} clients for {minutes} min (warm-up {warmup} s), {disconnectShare:P0} hang up mid-stream, model {Path.GetFileName(model)}");
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, clients).Select(i => Task.Run(() => Client(server, new Random(seed * 1000 + i), disconnectShare, stop.Token))).ToArray();

        Thread.Sleep(TimeSpan.FromSeconds(warmup));
        long warmRss = server.ResidentBytes();
        int warmRequests = Volatile.Read(ref _requests);
        Console.WriteLine($"after warm-up: RSS {warmRss / 1048576.0:F0} MiB, {warmRequests} requests");
        var end = TimeSpan.FromMinutes(minutes);
        while (clock.Elapsed < end)
        {
            Thread.Sleep(TimeSpan.FromSeconds(Math.Min(60, Math.Max(1, (end - clock.Elapsed).TotalSeconds))));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{clock.Elapsed.TotalMinutes,5:F1} min: {_requests} requests, {_disconnects} hung up, {_errors} errors, {_tokens} chunks, RSS {server.ResidentBytes() / 1048576.0:F0} MiB"));
        }
        stop.Cancel();
        Task.WaitAll(workers);
        // Let the engine notice the last hang-ups (each is dropped within a step).
        for (int i = 0; i < 50 && (server.Metric("qwensharp:num_requests_running") > 0 || server.Metric("qwensharp:num_requests_waiting") > 0); i++)
            Thread.Sleep(100);
        long endRss = server.ResidentBytes();
        double running = server.Metric("qwensharp:num_requests_running"), waiting = server.Metric("qwensharp:num_requests_waiting");
        double kv = server.Metric("qwensharp:kv_cache_usage_perc");
        int logErrors = server.ErrorLines;
        double drift = (double)endRss / warmRss - 1;
        bool pass = _errors == 0 && logErrors == 0 && Math.Abs(drift) <= 0.10 && running == 0 && waiting == 0 && kv == 0 && server.Alive;

        Console.WriteLine();
        Console.WriteLine("| requests | hung up | errors | server error lines | RSS after warm-up | RSS at end | drift | running / waiting at end | KV usage at end | verdict |");
        Console.WriteLine("| -------: | ------: | -----: | -----------------: | ----------------: | ---------: | ----: | -----------------------: | --------------: | :------ |");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {_requests} | {_disconnects} | {_errors} | {logErrors} | {warmRss / 1048576.0:F0} MiB | {endRss / 1048576.0:F0} MiB | {drift:+0.0%;-0.0%} | {running} / {waiting} | {kv} | {(pass ? "pass" : "FAIL")} |"));
        foreach (var e in _errorSamples.Take(10)) Console.WriteLine("error: " + e);
        foreach (var l in server.Log.Where(l => l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal)).Take(10))
            Console.WriteLine("server: " + l);
        return pass ? 0 : 1;
    }

    private async Task Client(ServerProcess server, Random rng, double disconnectShare, CancellationToken stop)
    {
        string[] words = ["llama", "river", "seven", "quantum", "bread", "castle", "violet", "engine", "poem", "tokens", "中文", "😀"];
        while (!stop.IsCancellationRequested)
        {
            int route = rng.Next(3);
            int maxTokens = rng.Next(4, 49);
            string prompt = string.Join(' ', Enumerable.Range(0, rng.Next(3, 40)).Select(_ => words[rng.Next(words.Length)]));
            int hangUpAfter = rng.NextDouble() < disconnectShare ? rng.Next(0, 12) : -1;
            (string path, JsonObject body) = route switch
            {
                0 => ("v1/chat/completions", new JsonObject
                {
                    ["model"] = "soak", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt }),
                    ["max_tokens"] = maxTokens, ["stream"] = true, ["temperature"] = rng.NextDouble(),
                }),
                1 => ("v1/completions", new JsonObject
                {
                    ["model"] = "soak", ["prompt"] = prompt, ["max_tokens"] = maxTokens, ["stream"] = true, ["n"] = rng.Next(1, 3),
                    ["stop"] = new JsonArray("river", "\n\n"),
                }),
                _ => ("api/chat", new JsonObject
                {
                    ["model"] = "soak", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt }),
                    ["options"] = new JsonObject { ["num_predict"] = maxTokens, ["seed"] = rng.Next() },
                }),
            };
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
            bool hungUp = false;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
                using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
                if ((int)response.StatusCode != 200)
                {
                    Error($"{path}: status {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
                    continue;
                }
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
                int chunks = 0;
                while (await reader.ReadLineAsync(cts.Token) is { } line)
                {
                    if (line.Length == 0) continue;
                    if (line.Contains("\"error\"", StringComparison.Ordinal)) Error($"{path}: {line}");
                    Interlocked.Increment(ref _tokens);
                    if (++chunks == hangUpAfter)
                    {
                        hungUp = true;
                        cts.Cancel(); // drops the connection mid-stream
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (hungUp || stop.IsCancellationRequested) { }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                Error($"{path}: {e.GetType().Name}: {e.Message}");
            }
            Interlocked.Increment(ref _requests);
            if (hungUp) Interlocked.Increment(ref _disconnects);
        }
    }

    private void Error(string what)
    {
        Interlocked.Increment(ref _errors);
        lock (_errorSamples) if (_errorSamples.Count < 100) _errorSamples.Add(what);
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
