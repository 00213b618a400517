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
/// Each N runs <c>-r</c> rounds (default 3); the table gives the median round's tokens/s and the spread, and the
/// latency percentiles over all rounds.
/// usage: serve -m model.gguf [-c 1,4,8,16] [-n 64] [-p 32] [-t 2] [-r 3] [-B tokens per step (--max-num-batched-tokens)]
///        [-S 64] (instead: the cost of stop strings; see <see cref="StopCost"/>)
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
        int rounds = int.Parse(Arg(args, "-r") ?? "3", CultureInfo.InvariantCulture);
        int stepTokens = int.Parse(Arg(args, "-B") ?? ServerOptions.DefaultMaxNumBatchedTokens.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        WorkerPool.SetSharedThreadCount(threads);

        var loaded = LoadedModel.Load(model, new EngineOptions { MaxNumSeqs = clients.Max(), KvCacheBytes = 1L << 30, MaxNumBatchedTokens = stepTokens });
        var backend = new LoadedModelBackend(loaded, "bench");
        var app = QwenServer.Build(new ServerOptions { Host = "127.0.0.1", Port = 0, ServedModelNames = ["bench"] }, backend,
            b => b.Logging.ClearProviders());
        app.StartAsync().GetAwaiter().GetResult();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromMinutes(30) };
        Console.WriteLine($"model {Path.GetFileName(model)}, {threads} threads, {gen} tokens per request, prompt of {promptWords} words, up to {stepTokens} tokens a step");
        // Warm-up: every client count once, so that the code each count runs is compiled and tiered up before it is
        // timed (one short request used to leave the first timed round, the single client's, ~40% slow).
        foreach (int n in clients) RunRound(http, n, gen, promptWords, -n);
        if (Arg(args, "-S") is { } stopCount)
        {
            StopCost(http, clients, gen, promptWords, rounds, int.Parse(stopCount, CultureInfo.InvariantCulture));
            app.StopAsync().GetAwaiter().GetResult();
            backend.Dispose();
            return 0;
        }
        Console.WriteLine($"| clients | tokens/s (all), median of {rounds} | min-max | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |");
        Console.WriteLine("| ------: | ------------------------: | ------: | ----------: | ----------: | ---------: | ---------: |");
        var medians = new Dictionary<int, double>();
        foreach (int n in clients)
        {
            var rates = new List<double>();
            var ttft = new List<double>();
            var itl = new List<double>();
            for (int r = 0; r < rounds; r++)
            {
                var (tps, t, i) = RunRound(http, n, gen, promptWords, n * 100 + r);
                rates.Add(tps);
                ttft.AddRange(t);
                itl.AddRange(i);
            }
            medians[n] = P(rates, 50);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {n,7} | {medians[n],25:F1} | {rates.Min():F0}-{rates.Max():F0} | {P(ttft, 50),11:F0} | {P(ttft, 99),11:F0} | {P(itl, 50),10:F1} | {P(itl, 99),10:F1} |"));
        }
        if (medians.TryGetValue(1, out double single) && medians.TryGetValue(8, out double eight))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"aggregate tokens/s at 8 clients: {eight / single:F2}x one client (medians)"));
        app.StopAsync().GetAwaiter().GetResult();
        backend.Dispose();
        return 0;
    }

    /// <summary>
    /// What one request's stop strings cost everyone else: each round runs the clients plus one more request, once
    /// with no stop strings and once with <paramref name="stops"/> of 1,000 bytes (the server's limits), alternating;
    /// the table compares the other clients' inter-token latency (stop matching runs on the engine's one thread).
    /// </summary>
    private static void StopCost(HttpClient http, int[] clients, int gen, int promptWords, int rounds, int stops)
    {
        // Long stops that share their first 999 bytes with each other and begin with a space, as generated text
        // often does, so the matcher always has something to hold and compare.
        var heavy = new JsonArray(Enumerable.Range(0, stops).Select(i => (JsonNode)(" " + new string('e', 998) + (char)('A' + i % 26))).ToArray());
        Console.WriteLine($"| clients | extra request | ITL p50 ms | ITL p99 ms | tokens/s | ({rounds} rounds each, alternating; the extra request's own tokens not counted) |");
        Console.WriteLine("| ------: | :------------ | ---------: | ---------: | -------: | |");
        foreach (int n in clients)
        {
            var itl = new[] { new List<double>(), new List<double>() };
            var rates = new[] { new List<double>(), new List<double>() };
            for (int r = 0; r < rounds; r++)
                for (int k = 0; k < 2; k++)
                {
                    var (tps, _, i) = RunRound(http, n, gen, promptWords, 1000 + n * 100 + r, k == 0 ? new JsonArray() : heavy);
                    itl[k].AddRange(i);
                    rates[k].Add(tps);
                }
            for (int k = 0; k < 2; k++)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {n,7} | {(k == 0 ? "no stops" : $"{stops} stops × 1,000 B"),-13} | {P(itl[k], 50),10:F2} | {P(itl[k], 99),10:F2} | {P(rates[k], 50),8:F1} | |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ITL p50 with the stops / without, {n} clients: {P(itl[1], 50) / P(itl[0], 50):F3}; p99: {P(itl[1], 99) / P(itl[0], 99):F3}"));
        }
    }

    private static (double TokensPerSecond, List<double> Ttft, List<double> Itl) RunRound(HttpClient http, int n, int gen, int promptWords, int seed,
        JsonArray? extraStops = null)
    {
        // The extra request (when asked for) runs beside the n clients for as long as they do; it is not measured.
        var extra = extraStops == null ? Task.CompletedTask : Task.Run(async () =>
        {
            var body = new JsonObject
            {
                ["model"] = "bench", ["prompt"] = $"Extra request {seed}: tell a long story.", ["max_tokens"] = gen + 16,
                ["temperature"] = 0, ["ignore_eos"] = true, ["stream"] = true, ["stop"] = extraStops.DeepClone(),
            };
            using var response = await http.PostAsync("v1/completions", JsonContent.Create(body));
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsStringAsync();
        });
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
                // A chunk with a choice carries one token. Checked without parsing the JSON: the clients share the
                // server's two cores here, and parsing every chunk took CPU time from the server it measures.
                if (!line.StartsWith("data: {", StringComparison.Ordinal) || !line.Contains("\"choices\":[{", StringComparison.Ordinal)) continue;
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
        double elapsed = clock.Elapsed.TotalSeconds;
        extra.GetAwaiter().GetResult();
        return (tokens / elapsed, ttft, itl);
    }

    private static double P(IReadOnlyList<double> values, int percentile)
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
