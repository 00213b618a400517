using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace QwenSharp.Bench;

/// <summary>
/// Issue 14's fuzz run: request bodies mutated from valid ones (types flipped, fields dropped or added, huge,
/// negative and fractional numbers, long and deep values, invalid UTF-8, lone surrogates, truncation) sent to every
/// POST route of a `qwensharp serve` process. Passes when every answer is 2xx or 4xx, none is a 5xx, and the server
/// is alive and healthy at the end. Bodies that drew a 5xx are written to --out for replay.
/// usage: fuzz -m model.gguf [--count 10000] [--concurrency 8] [--seed 1] [--out fuzz-failures]
/// </summary>
public sealed class ServeFuzz : IBenchmark
{
    public string Name => "fuzz";
    public string Summary => "Mutated request bodies against a serve process: every answer 2xx/4xx, none 5xx, server alive.";

    private static readonly (string Path, string Body)[] Seeds =
    [
        ("v1/chat/completions", """{"model":"fuzz","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there"}],"max_tokens":4,"temperature":0.7,"top_p":0.9,"stop":["\n"],"seed":3,"logprobs":true,"top_logprobs":2}"""),
        ("v1/chat/completions", """{"model":"fuzz","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_completion_tokens":3,"stream":true,"stream_options":{"include_usage":true},"n":2}"""),
        ("v1/chat/completions", """{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","content":"2","tool_call_id":"1"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"none","max_tokens":2,"chat_template_kwargs":{"enable_thinking":false}}"""),
        ("v1/completions", """{"model":"fuzz","prompt":"Once upon a time","max_tokens":5,"echo":true,"logit_bias":{"100":5},"stop_token_ids":[151643],"min_tokens":1}"""),
        ("v1/completions", """{"prompt":[[1,2,3],[4,5]],"max_tokens":3,"n":2,"stream":true,"logprobs":1}"""),
        ("api/chat", """{"model":"fuzz","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":4,"temperature":0.5,"top_k":10,"stop":["x"]},"keep_alive":"5m"}"""),
        ("api/generate", """{"model":"fuzz","prompt":"Why is the sky blue?","system":"Short.","stream":true,"options":{"num_predict":3,"seed":1,"num_ctx":256},"context":[1,2,3]}"""),
        ("api/generate", """{"model":"fuzz","prompt":"raw text","raw":true,"stream":false,"options":{"num_predict":2}}"""),
        ("tokenize", """{"model":"fuzz","prompt":"Hello world","add_special_tokens":true,"return_token_strs":true}"""),
        ("tokenize", """{"messages":[{"role":"user","content":"hi"}],"add_generation_prompt":true}"""),
        ("detokenize", """{"model":"fuzz","tokens":[9707,1879]}"""),
        ("api/show", """{"model":"fuzz","verbose":true}"""),
    ];

    public int Run(string[] args)
    {
        string model = Arg(args, "-m") ?? throw new ArgumentException("-m <model> is required");
        int count = int.Parse(Arg(args, "--count") ?? "10000", CultureInfo.InvariantCulture);
        int concurrency = int.Parse(Arg(args, "--concurrency") ?? "8", CultureInfo.InvariantCulture);
        int seed = int.Parse(Arg(args, "--seed") ?? "1", CultureInfo.InvariantCulture);
        string outDir = Arg(args, "--out") ?? "fuzz-failures";

        // A short context keeps a mutated max_tokens from generating for minutes.
        using var server = new ServerProcess(model, "--served-model-name", "fuzz", "--max-model-len", "256");
        var statuses = new SortedDictionary<int, int>();
        int failures = 0, transportErrors = 0, next = -1;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            while (true)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= count) return;
                var rng = new Random(seed * 1_000_003 + i);
                var (path, seedBody) = Seeds[rng.Next(Seeds.Length)];
                byte[] body = Mutate(seedBody, rng, out string? contentType);
                int status;
                try
                {
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = contentType == null ? null : MediaTypeHeaderValue.Parse(contentType);
                    using var response = await server.Http.PostAsync(path, content);
                    await response.Content.ReadAsByteArrayAsync();
                    status = (int)response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref transportErrors);
                    status = 0;
                }
                lock (statuses) statuses[status] = statuses.GetValueOrDefault(status) + 1;
                if (status is >= 500 or 0)
                {
                    Interlocked.Increment(ref failures);
                    Directory.CreateDirectory(outDir);
                    File.WriteAllBytes(Path.Combine(outDir, $"{i:D5}-{status}-{path.Replace('/', '_')}.json"), body);
                }
            }
        })).ToArray();
        Task.WaitAll(workers);
        bool healthy = server.Alive && server.Http.GetAsync("health").GetAwaiter().GetResult().IsSuccessStatusCode;
        Console.WriteLine($"fuzz: {count} mutated bodies over {Seeds.Length} seeds, {concurrency} at a time, {clock.Elapsed.TotalSeconds:F0} s, model {Path.GetFileName(model)}");
        Console.WriteLine("| status | count |");
        Console.WriteLine("| -----: | ----: |");
        foreach (var (status, n) in statuses) Console.WriteLine($"| {(status == 0 ? "no answer" : status)} | {n} |");
        Console.WriteLine($"5xx or no answer: {failures}; server alive and healthy at the end: {healthy}; server error lines: {server.ErrorLines}");
        foreach (var l in server.Log.Where(l => l.StartsWith("fail:", StringComparison.Ordinal)).Take(5)) Console.WriteLine("server: " + l);
        return failures == 0 && healthy ? 0 : 1;
    }

    /// <summary>One to three mutations of a valid body; sometimes of its bytes, sometimes of its JSON tree.</summary>
    internal static byte[] Mutate(string seedBody, Random rng, out string? contentType)
    {
        contentType = rng.Next(40) switch { 0 => "text/plain", 1 => null, 2 => "application/json; charset=latin1", _ => "application/json" };
        var root = JsonNode.Parse(seedBody)!;
        int mutations = rng.Next(4) == 0 ? rng.Next(2, 4) : 1;
        for (int m = 0; m < mutations; m++) root = MutateTree(root, rng);
        byte[] bytes = Encoding.UTF8.GetBytes(root.ToJsonString());
        switch (rng.Next(12))
        {
            case 0: // invalid UTF-8 inside the text
                int at = rng.Next(bytes.Length);
                return [.. bytes[..at], (byte)(0x80 + rng.Next(0x80)), .. bytes[at..]];
            case 1: // truncated
                return bytes[..rng.Next(bytes.Length)];
            case 2: // a lone surrogate escape in the first string
                string text = Encoding.UTF8.GetString(bytes);
                int quote = text.IndexOf(":\"", StringComparison.Ordinal);
                return quote < 0 ? bytes : Encoding.UTF8.GetBytes(text.Insert(quote + 2, rng.Next(2) == 0 ? "\\ud800" : "\\udfff"));
            default:
                return bytes;
        }
    }

    private static JsonNode MutateTree(JsonNode root, Random rng)
    {
        // Pick a random node (the root included) and replace, drop or extend it.
        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        var target = nodes[rng.Next(nodes.Count)];
        var parent = target.Parent;
        JsonNode? replacement = rng.Next(14) switch
        {
            0 => JsonValue.Create(rng.Next(2) == 0 ? 1e308 : -1e308),
            1 => JsonValue.Create(-1),
            2 => JsonValue.Create(long.MaxValue),
            3 => JsonValue.Create(int.MinValue),
            4 => JsonValue.Create(0.5),
            5 => JsonValue.Create(rng.Next(2) == 0),
            6 => null,
            7 => JsonValue.Create(new string('x', rng.Next(1, 200_000))),
            8 => new JsonArray(),
            9 => new JsonObject(),
            10 => Deep(rng.Next(10, 80)),
            11 => JsonValue.Create("\u0000<|im_start|>\uFFFF"),
            12 => JsonValue.Create(rng.Next(-5, 200_000)),
            _ => JsonValue.Create("drop"),
        };
        if (parent == null) return replacement is JsonObject o ? o : root; // the root stays an object mostly
        bool drop = replacement is JsonValue v && v.TryGetValue(out string? s) && s == "drop";
        switch (parent)
        {
            case JsonObject obj:
                string key = obj.First(p => ReferenceEquals(p.Value, target)).Key;
                if (drop) obj.Remove(key);
                else obj[key] = replacement;
                if (rng.Next(8) == 0) obj[$"unknown_{rng.Next(5)}"] = JsonValue.Create(1);
                break;
            case JsonArray arr:
                int index = arr.IndexOf(target);
                if (drop) arr.RemoveAt(index);
                else arr[index] = replacement;
                break;
        }
        return root;
    }

    private static JsonNode Deep(int depth)
    {
        JsonNode node = new JsonArray();
        for (int i = 0; i < depth; i++) node = new JsonArray(node);
        return node;
    }

    private static void Collect(JsonNode? node, List<JsonNode> into)
    {
        if (node == null) return;
        into.Add(node);
        if (node is JsonObject o) foreach (var (_, v) in o) Collect(v, into);
        else if (node is JsonArray a) foreach (var v in a) Collect(v, into);
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
