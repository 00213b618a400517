using System.Net;
using QwenSharp.Hub;

namespace QwenSharp.Tests.Hub;

/// <summary>Where the Hub token goes along redirects (issue 14, point 7): an https → http redirect on the same
/// host must not carry it, since anyone on the path reads plain http.</summary>
public class TokenRedirectTests
{
    /// <summary>Plays a TLS-terminating proxy in front of the plain-http FakeHubServer: an https:// request is sent
    /// to the same host and port over http, marked X-Forwarded-Proto: https, so the server can tell the two apart.</summary>
    private sealed class TlsTerminator() : DelegatingHandler(new SocketsHttpHandler { AllowAutoRedirect = false })
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            if (request.RequestUri!.Scheme == Uri.UriSchemeHttps)
            {
                request.RequestUri = new UriBuilder(request.RequestUri) { Scheme = Uri.UriSchemeHttp }.Uri;
                request.Headers.Add("X-Forwarded-Proto", "https");
            }
            return base.SendAsync(request, ct);
        }
    }

    [Fact]
    public async Task HttpsToHttpRedirect_OnTheSameHost_DropsTheToken()
    {
        using var server = new FakeHubServer { AcceptedToken = "hf_secret", DowngradeHttps = true };
        var repo = HubTestModels.Safetensors();
        server.Add(repo);
        using var dir = new TempDir();
        using var client = new HttpClient(new TlsTerminator());
        var options = HubTestModels.Options(dir, server) with
        {
            HfEndpoint = $"https://127.0.0.1:{server.ApiPort}",
            HfToken = "hf_secret",
            HttpClient = client,
        };

        var located = await ModelLocator.LocateAsync("Qwen/Tiny-Instruct", options);

        Assert.Equal(repo.Files["config.json"], File.ReadAllBytes(Path.Combine(located.Path, "config.json")));
        var viaHttps = server.Requests.Where(r => r.Headers.ContainsKey("X-Forwarded-Proto")).ToList();
        var viaHttp = server.Requests.Where(r => !r.Headers.ContainsKey("X-Forwarded-Proto")).ToList();
        // The listing, each HEAD and each small file's GET went to https first, then were sent on to http.
        Assert.Contains(viaHttps, r => r.Method == "GET" && r.Target.StartsWith("/api/models/"));
        Assert.Contains(viaHttps, r => r.Method == "GET" && r.Target.Contains("/resolve/"));
        Assert.All(viaHttps, r => Assert.Equal("Bearer hf_secret", r.Headers["Authorization"]));
        Assert.Contains(viaHttp, r => r.Method == "GET" && r.Target.StartsWith("/api/models/"));
        Assert.Contains(viaHttp, r => r.Method == "HEAD" && r.Port == server.ApiPort);
        Assert.Contains(viaHttp, r => r.Method == "GET" && r.Port == server.ApiPort && r.Target.Contains("/resolve/"));
        Assert.All(viaHttp, r => Assert.False(r.Headers.ContainsKey("Authorization"), $"the token reached http://…{r.Target}"));
    }

    /// <summary>Answers every request with one redirect, recording what it was sent.</summary>
    private sealed class Redirector(string location) : HttpMessageHandler
    {
        public List<HttpRequestMessage> Seen { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            Seen.Add(request);
            var response = new HttpResponseMessage(HttpStatusCode.Found);
            response.Headers.Location = new Uri(location, UriKind.RelativeOrAbsolute);
            return Task.FromResult(response);
        }
    }

    [Theory]
    [InlineData("file:///etc/passwd")]
    [InlineData("ftp://hub.example/x")]
    public async Task RedirectToAnotherScheme_IsAClearError(string location)
    {
        var handler = new Redirector(location);
        using var client = new HttpClient(handler);
        var e = await Assert.ThrowsAsync<HubException>(() =>
            HubHttp.SendAsync(client, HttpMethod.Get, new Uri("https://hub.example/a"), "hf_secret", crossHost: true, CancellationToken.None));
        Assert.Equal($"https://hub.example/a redirects to '{location}', which is not an http or https URL; the server or mirror is misconfigured.", e.Message);
        Assert.Single(handler.Seen);
    }

    [Theory]
    [InlineData("https://hub.example/a", "https://hub.example/b", true)]
    [InlineData("http://hub.example/a", "https://hub.example/b", true)]
    [InlineData("https://hub.example/a", "http://hub.example/b", false)]
    [InlineData("https://hub.example/a", "https://cdn.example/b", false)]
    [InlineData("https://hub.example/a", "https://hub.example:8443/b", false)]
    public void KeepsToken_OnlyOnTheSameHostAndNeverDownToHttp(string from, string to, bool keeps) =>
        Assert.Equal(keeps, HubHttp.KeepsToken(new Uri(from), new Uri(to)));
}
