using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace QwenSharp.Tests.Hub;

/// <summary>
/// A real HTTP/1.1 server on 127.0.0.1 (random ports) speaking the Hugging Face Hub's URL scheme, as
/// huggingface_hub expects it: `GET /api/models/{repo}/revision/{rev}` (sha + siblings), `HEAD|GET
/// /{repo}/resolve/{rev}/{file}` answering small files directly (ETag = git blob sha1) and LFS files with a
/// 302 to a CDN on a second port (X-Linked-Etag = sha256, X-Linked-Size, X-Repo-Commit on both), the CDN
/// honouring Range requests. Also ModelScope's `/api/v1/models/{id}/repo/files` and `/repo?FilePath=`.
/// Faults are switched on per test: cut a transfer, corrupt a byte, require a token. Built on TcpListener so
/// a cut is a real closed connection. Every request is recorded.
/// </summary>
public sealed class FakeHubServer : IDisposable
{
    public sealed record Repo(string Id, string Commit, Dictionary<string, byte[]> Files, bool Gated = false);
    public sealed record Request(string Method, string Target, Dictionary<string, string> Headers, int Port);

    private readonly TcpListener _api = new(IPAddress.Loopback, 0);
    private readonly TcpListener _cdn = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, Repo> _repos = new(StringComparer.Ordinal);

    public ConcurrentQueue<Request> Requests { get; } = new();
    /// <summary>Close the connection after this many body bytes of the next CDN transfers (one use each).</summary>
    public ConcurrentQueue<long> CutAfter { get; } = new();
    /// <summary>Send this many body bytes of the next CDN transfers, then nothing for 10 s (one use each).</summary>
    public ConcurrentQueue<long> StallAfter { get; } = new();
    /// <summary>Flip one byte in the middle of every LFS file served.</summary>
    public bool Corrupt { get; set; }
    public string? AcceptedToken { get; set; }
    /// <summary>ETags to send instead of the real ones, by repo file name (a hostile or broken server).</summary>
    public ConcurrentDictionary<string, string> EtagFor { get; } = new();
    /// <summary>Answer every request that arrived as https (X-Forwarded-Proto, set by a TLS-terminating test
    /// handler) with a 301 to the same path over plain http on the same host and port.</summary>
    public bool DowngradeHttps { get; set; }

    public FakeHubServer()
    {
        _api.Start();
        _cdn.Start();
        _ = AcceptLoop(_api);
        _ = AcceptLoop(_cdn);
    }

    public int ApiPort => ((IPEndPoint)_api.LocalEndpoint).Port;
    public int CdnPort => ((IPEndPoint)_cdn.LocalEndpoint).Port;
    public string Endpoint => $"http://127.0.0.1:{ApiPort}";

    public void Add(Repo repo) => _repos[repo.Id] = repo;

    /// <summary>An Ollama registry model: layers by media type, served as a Docker v2 manifest and blobs.</summary>
    public void AddOllama(string ns, string model, string tag, params (string MediaType, byte[] Data)[] layers) =>
        _ollama[$"{ns}/{model}/{tag}"] = layers;

    /// <summary>An Ollama registry manifest served as given (its digests need not be valid).</summary>
    public void AddOllamaManifest(string ns, string model, string tag, byte[] manifest) =>
        _ollamaRaw[$"{ns}/{model}/{tag}"] = manifest;

    private readonly Dictionary<string, byte[]> _ollamaRaw = new(StringComparer.Ordinal);

    private readonly Dictionary<string, (string MediaType, byte[] Data)[]> _ollama = new(StringComparer.Ordinal);
    private static readonly byte[] OllamaConfig = "{}"u8.ToArray();

    public static string Digest(byte[] data) => "sha256:" + Sha256(data);

    public static byte[] OllamaManifest((string MediaType, byte[] Data)[] layers) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        schemaVersion = 2,
        mediaType = "application/vnd.docker.distribution.manifest.v2+json",
        config = new { mediaType = "application/vnd.docker.container.image.v1+json", digest = Digest(OllamaConfig), size = OllamaConfig.Length },
        layers = layers.Select(l => new { mediaType = l.MediaType, digest = Digest(l.Data), size = l.Data.Length }),
    });

    private IEnumerable<byte[]> AllBlobs() =>
        _repos.Values.SelectMany(x => x.Files.Values).Concat(_ollama.Values.SelectMany(l => l).Select(l => l.Data)).Append(OllamaConfig);

    /// <summary>A file is stored in LFS (and so redirected to the CDN) when it is a weight file, as on the Hub.</summary>
    public static bool IsLfs(string file) => file.EndsWith(".gguf") || file.EndsWith(".safetensors") || file.EndsWith(".bin");

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>git hash-object: sha1 over "blob &lt;size&gt;\0" and the content.</summary>
    public static string GitSha1(byte[] data) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {data.Length}\0"), .. data]));

    private async Task AcceptLoop(TcpListener listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try { await Serve(client, ((IPEndPoint)listener.LocalEndpoint).Port); }
                    catch (IOException) { }
                    catch (SocketException) { }
                    catch (ObjectDisposedException) { }
                }
            });
        }
    }

    private async Task Serve(TcpClient client, int port)
    {
        var stream = client.GetStream();
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n"))
        {
            if (await stream.ReadAsync(one) == 0) return;
            head.Append((char)one[0]);
        }
        string[] lines = head.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        string[] requestLine = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        var request = new Request(requestLine[0], requestLine[1], headers, port);
        Requests.Enqueue(request);
        await Respond(stream, request);
    }

    private async Task Respond(NetworkStream stream, Request r)
    {
        string path = Uri.UnescapeDataString(r.Target.Split('?')[0]);
        var query = ParseQuery(r.Target);
        bool head = r.Method == "HEAD";

        if (DowngradeHttps && r.Headers.TryGetValue("X-Forwarded-Proto", out var proto) && proto == "https")
        {
            await Send(stream, 301, [("Location", $"http://127.0.0.1:{r.Port}{r.Target}")], [], head);
            return;
        }

        if (r.Port == CdnPort && path.StartsWith("/cdn/"))
        {
            var blob = AllBlobs().FirstOrDefault(b => Sha256(b) == path[5..]);
            if (blob == null) { await Send(stream, 404, [], "not found"u8.ToArray(), head); return; }
            await SendBody(stream, r, Serve(blob), head);
            return;
        }

        if (path.StartsWith("/v2/"))
        {
            // Ollama's registry: /v2/{ns}/{model}/manifests/{tag} and /v2/{ns}/{model}/blobs/sha256:{hex}
            string[] v2 = path[4..].Split('/');
            if (v2.Length == 4 && v2[2] == "manifests" && _ollamaRaw.TryGetValue($"{v2[0]}/{v2[1]}/{v2[3]}", out var raw))
            {
                await Send(stream, 200, [("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")], raw, head);
                return;
            }
            if (v2.Length == 4 && v2[2] == "manifests" && _ollama.TryGetValue($"{v2[0]}/{v2[1]}/{v2[3]}", out var layers))
            {
                await Send(stream, 200, [("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")], OllamaManifest(layers), head);
                return;
            }
            var blob = v2.Length == 4 && v2[2] == "blobs" ? AllBlobs().FirstOrDefault(d => Digest(d) == v2[3]) : null;
            if (blob != null)
            {
                // The registry redirects blob downloads to its CDN.
                await Send(stream, 307, [("Location", $"http://127.0.0.1:{CdnPort}/cdn/{Sha256(blob)}")], [], head);
                return;
            }
            await Send(stream, 404, [("Content-Type", "application/json")], Encoding.UTF8.GetBytes("{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}"), head);
            return;
        }

        if (path.StartsWith("/api/v1/models/"))
        {
            await ModelScope(stream, r, path["/api/v1/models/".Length..], query);
            return;
        }

        if (path.StartsWith("/api/models/"))
        {
            // /api/models/{org}/{name}/revision/{rev}
            string[] parts = path["/api/models/".Length..].Split('/', 4);
            var repo = Find(parts[0] + "/" + parts[1]);
            if (await Refused(stream, r, repo, head)) return;
            var json = JsonSerializer.SerializeToUtf8Bytes(new
            {
                id = repo!.Id,
                sha = repo.Commit,
                siblings = repo.Files.Keys.Select(f => new { rfilename = f }),
            });
            await Send(stream, 200, [("Content-Type", "application/json")], json, head);
            return;
        }

        // /{org}/{name}/resolve/{rev}/{file...}
        string[] seg = path.TrimStart('/').Split('/', 5);
        if (seg.Length == 5 && seg[2] == "resolve")
        {
            var repo = Find(seg[0] + "/" + seg[1]);
            if (await Refused(stream, r, repo, head)) return;
            if (seg[3] != "main" && seg[3] != repo!.Commit)
            {
                await Send(stream, 404, [("X-Error-Code", "RevisionNotFound")], "Revision Not Found"u8.ToArray(), head);
                return;
            }
            if (!repo!.Files.TryGetValue(seg[4], out var data))
            {
                await Send(stream, 404, [("X-Error-Code", "EntryNotFound")], "Entry not found"u8.ToArray(), head);
                return;
            }
            if (IsLfs(seg[4]))
            {
                await Send(stream, 302, [
                    ("Location", $"http://127.0.0.1:{CdnPort}/cdn/{Sha256(data)}"),
                    ("X-Repo-Commit", repo.Commit),
                    ("X-Linked-Etag", $"\"{EtagFor.GetValueOrDefault(seg[4], Sha256(data))}\""),
                    ("X-Linked-Size", data.Length.ToString()),
                    ("ETag", "W/\"pointer-etag\""),
                ], [], head);
                return;
            }
            await SendBody(stream, r, data, head, [("X-Repo-Commit", repo.Commit), ("ETag", $"\"{EtagFor.GetValueOrDefault(seg[4], GitSha1(data))}\"")]);
            return;
        }
        await Send(stream, 404, [], "not found"u8.ToArray(), head);
    }

    private async Task ModelScope(NetworkStream stream, Request r, string rest, Dictionary<string, string> query)
    {
        // {org}/{name}/repo/files  or  {org}/{name}/repo
        string[] parts = rest.Split('/');
        var repo = Find(parts[0] + "/" + parts[1]);
        if (repo == null)
        {
            await Send(stream, 404, [("Content-Type", "application/json")], """{"Code":10010205001,"Message":"model not found","Success":false}"""u8.ToArray(), r.Method == "HEAD");
            return;
        }
        if (parts.Length == 4 && parts[3] == "files")
        {
            var json = JsonSerializer.SerializeToUtf8Bytes(new
            {
                Code = 200,
                Data = new
                {
                    Files = repo.Files.Select(f => new { Name = f.Key.Split('/')[^1], Path = f.Key, Type = "blob", Size = f.Value.Length, Sha256 = Sha256(f.Value), Revision = repo.Commit })
                        .Append(new { Name = "sub", Path = "sub", Type = "tree", Size = 0, Sha256 = "", Revision = repo.Commit }),
                },
                Success = true,
            });
            await Send(stream, 200, [("Content-Type", "application/json")], json, false);
            return;
        }
        if (query.TryGetValue("FilePath", out var file) && repo.Files.TryGetValue(file, out var data))
        {
            await SendBody(stream, r, IsLfs(file) ? Serve(data) : data, r.Method == "HEAD");
            return;
        }
        await Send(stream, 404, [], "not found"u8.ToArray(), false);
    }

    private byte[] Serve(byte[] blob)
    {
        if (!Corrupt) return blob;
        var copy = (byte[])blob.Clone();
        copy[copy.Length / 2] ^= 0x5a;
        return copy;
    }

    private Repo? Find(string id) => _repos.GetValueOrDefault(id);

    /// <summary>The Hub's answers for unknown and gated repos: 401 with X-Error-Code RepoNotFound when
    /// unauthenticated (it does not reveal private names), 401 for a gated repo without a valid token.</summary>
    private async Task<bool> Refused(NetworkStream stream, Request r, Repo? repo, bool head)
    {
        bool authorized = AcceptedToken != null && r.Headers.TryGetValue("Authorization", out var auth) && auth == "Bearer " + AcceptedToken;
        if (repo == null)
        {
            await Send(stream, authorized ? 404 : 401, [("X-Error-Code", "RepoNotFound")], """{"error":"Repository not found"}"""u8.ToArray(), head);
            return true;
        }
        if (repo.Gated && !authorized)
        {
            await Send(stream, 401, [], """{"error":"Access to model is restricted. You must have access to it and be authenticated to access it. Please log in."}"""u8.ToArray(), head);
            return true;
        }
        return false;
    }

    private async Task SendBody(NetworkStream stream, Request r, byte[] data, bool head, (string, string)[]? extra = null)
    {
        long from = 0;
        int status = 200;
        var headers = new List<(string, string)>(extra ?? []) { ("Accept-Ranges", "bytes") };
        if (r.Headers.TryGetValue("Range", out var range) && range.StartsWith("bytes=") && range.EndsWith("-"))
        {
            from = long.Parse(range[6..^1]);
            if (from >= data.Length)
            {
                await Send(stream, 416, [("Content-Range", $"bytes */{data.Length}")], [], head);
                return;
            }
            status = 206;
            headers.Add(("Content-Range", $"bytes {from}-{data.Length - 1}/{data.Length}"));
        }
        byte[] body = data[(int)from..];
        if (!head && CutAfter.TryPeek(out long cut) && cut < body.Length && CutAfter.TryDequeue(out _))
        {
            // Announce the whole body, send part of it, then close the connection (FIN, so what was sent arrives).
            await WriteHead(stream, status, headers, body.Length);
            await stream.WriteAsync(body.AsMemory(0, (int)cut));
            await stream.FlushAsync();
            stream.Socket.Shutdown(SocketShutdown.Send);
            stream.Socket.Close();
            return;
        }
        if (!head && StallAfter.TryPeek(out long stall) && stall < body.Length && StallAfter.TryDequeue(out _))
        {
            await WriteHead(stream, status, headers, body.Length);
            await stream.WriteAsync(body.AsMemory(0, (int)stall));
            await stream.FlushAsync();
            await Task.Delay(TimeSpan.FromSeconds(10), _stop.Token);
            return;
        }
        await Send(stream, status, headers, body, head);
    }

    private static async Task Send(NetworkStream stream, int status, IEnumerable<(string, string)> headers, byte[] body, bool head)
    {
        await WriteHead(stream, status, headers, body.Length);
        if (!head) await stream.WriteAsync(body);
        await stream.FlushAsync();
    }

    private static async Task WriteHead(NetworkStream stream, int status, IEnumerable<(string Name, string Value)> headers, long length)
    {
        var sb = new StringBuilder($"HTTP/1.1 {status} {(HttpStatusCode)status}\r\n");
        foreach (var (name, value) in headers) sb.Append($"{name}: {value}\r\n");
        sb.Append($"Content-Length: {length}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(sb.ToString()));
    }

    private static Dictionary<string, string> ParseQuery(string target)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        int q = target.IndexOf('?');
        if (q < 0) return result;
        foreach (string pair in target[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            if (eq > 0) result[Uri.UnescapeDataString(pair[..eq])] = Uri.UnescapeDataString(pair[(eq + 1)..]);
        }
        return result;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _api.Stop();
        _cdn.Stop();
    }
}
