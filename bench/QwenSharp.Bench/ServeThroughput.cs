using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using QwenSharp.Engine;
using QwenSharp.Kernels;
using QwenSharp.Server;
using QwenSharp.Server.Backend;

namespace QwenSharp.Bench;

/// <summary>
/// N concurrent streaming clients against `qwensharp serve` on loopback (OpenAI /v1/completions, SSE):
/// aggregate generated tokens/s, time to first token and inter-token latency percentiles, for each N.
/// usage: serve -m model.gguf [-c 1,4,8,16] [-n 64] [-p 32] [-t 2]
/// </summary>
public sealed class ServeThroughput : IBenchmark
{
    public string Name => "serve";
    public string Summary => "Concurrent streaming clients against the OpenAI server: tokens/s, TTFT and ITL p50/p99.";

    public int Run(string[] args)
    {
        string model = Arg(args, "-m") ?? throw new ArgumentException("-m <model> is required");
        var clients = (Arg(args, "-c") ?? "1,4,8,16").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        int gen = int.Parse(Arg(args, "-n") ?? "64", CultureInfo.InvariantCulture);
        int promptWords = int.Parse(Arg(args, "-p") ?? "32", CultureInfo.InvariantCulture);
        int threads = int.Parse(Arg(args, "-t") ?? "2", CultureInfo.InvariantCulture);
        WorkerPool.SetSharedThreadCount(threads);

        var loaded = LoadedModel.Load(model, new EngineOptions { MaxNumSeqs = clients.Max(), KvCacheBytes = 1L << 30 });
        var backend = new LoadedModelBackend(loaded, "bench");
        var app = QwenServer.Build(new ServerOptions { Host = "127.0.0.1", Port = 0, ServedModelNames = ["bench"] }, backend,
            b => b.Logging.ClearProviders());
        app.StartAsync().GetAwaiter().GetResult();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromMinutes(30) };
        Console.WriteLine($"model {Path.GetFileName(model)}, {threads} threads, {gen} tokens per request, prompt of {promptWords} words");
        Console.WriteLine("| clients | tokens/s (all) | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |");
        Console.WriteLine("| ------: | -------------: | ----------: | ----------: | ---------: | ---------: |");
        RunRound(http, 1, 8, promptWords, -1); // warm-up
        double single = 0;
        foreach (int n in clients)
        {
            var (tps, ttft, itl) = RunRound(http, n, gen, promptWords, n);
            if (n == 1) single = tps;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {n,7} | {tps,14:F1} | {P(ttft, 50),11:F0} | {P(ttft, 99),11:F0} | {P(itl, 50),10:F1} | {P(itl, 99),10:F1} |"));
        }
        if (single > 0 && clients.Contains(8))
            Console.WriteLine("(aggregate at 8 clients relative to 1: see the table)");
        app.StopAsync().GetAwaiter().GetResult();
        backend.Dispose();
        return 0;
    }

    private static (double TokensPerSecond, List<double> Ttft, List<double> Itl) RunRound(HttpClient http, int n, int gen, int promptWords, int seed)
    {
        var ttft = new List<double>();
        var itl = new List<double>();
        int tokens = 0;
        var clock = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, n).Select(i => Task.Run(async () =>
        {
            var body = new JsonObject
            {
                ["model"] = "bench",
                ["prompt"] = $"Client {i} of round {seed}: " + string.Join(' ', Enumerable.Range(0, promptWords).Select(w => $"word{(w * 7 + i) % 97}")),
                ["max_tokens"] = gen,
                ["temperature"] = 0,
                ["ignore_eos"] = true,
                ["stream"] = true,
            };
            var start = Stopwatch.GetTimestamp();
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = JsonContent.Create(body) };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            long last = 0;
            var mine = new List<double>();
            double first = -1;
            int count = 0;
            while (await reader.ReadLineAsync() is { } line)
            {
                if (!line.StartsWith("data: {", StringComparison.Ordinal)) continue;
                var json = JsonNode.Parse(line[6..]);
                if (json?["choices"] is not JsonArray { Count: > 0 }) continue;
                long now = Stopwatch.GetTimestamp();
                if (first < 0) first = Stopwatch.GetElapsedTime(start, now).TotalMilliseconds;
                else mine.Add(Stopwatch.GetElapsedTime(last, now).TotalMilliseconds);
                last = now;
                count++;
            }
            lock (itl)
            {
                ttft.Add(first);
                itl.AddRange(mine);
                tokens += gen;
            }
        })).ToArray();
        Task.WaitAll(tasks);
        return (tokens / clock.Elapsed.TotalSeconds, ttft, itl);
    }

    private static double P(List<double> values, int percentile)
    {
        if (values.Count == 0) return 0;
        var v = values.OrderBy(x => x).ToArray();
        return v[Math.Min(v.Length - 1, (int)Math.Ceiling(percentile / 100.0 * v.Length) - 1)];
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
