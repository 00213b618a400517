using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using QwenSharp.Server;
using QwenSharp.Server.Backend;

namespace QwenSharp.Server.Tests;

/// <summary>A QwenSharp server on 127.0.0.1 (a free port) over a <see cref="FakeBackend"/>, with its log lines kept.</summary>
public sealed class TestServer : IAsyncDisposable
{
    public const string Model = "Qwen2-7B-Instruct";

    private TestServer(WebApplication app, IModelBackend backend, LogSink logs)
    {
        App = app;
        ModelBackend = backend;
        Logs = logs;
        BaseUri = new Uri(app.Urls.First().TrimEnd('/') + "/");
        Http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }
    public IModelBackend ModelBackend { get; }
    public FakeBackend Backend => (FakeBackend)ModelBackend;
    public LogSink Logs { get; }
    public Uri BaseUri { get; }
    public HttpClient Http { get; }

    public static async Task<TestServer> StartAsync(ServerOptions? options = null, IModelBackend? backend = null)
    {
        options ??= new ServerOptions();
        options = options with { Host = "127.0.0.1", Port = 0, ServedModelNames = options.ServedModelNames.Count > 0 ? options.ServedModelNames : [Model] };
        backend ??= new FakeBackend(maxModelLength: 4096);
        var logs = new LogSink();
        var app = QwenServer.Build(options, backend, b =>
        {
            b.Logging.ClearProviders();
            b.Logging.AddProvider(logs);
            b.Logging.SetMinimumLevel(LogLevel.Information);
        });
        await app.StartAsync();
        return new TestServer(app, backend, logs);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        (ModelBackend as IDisposable)?.Dispose();
    }
}

/// <summary>Keeps every log line so tests can read the request log.</summary>
public sealed class LogSink : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();
    public ILogger CreateLogger(string categoryName) => new Sink(this);
    public void Dispose() { }

    private sealed class Sink(LogSink owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}

/// <summary>One server shared by the test classes that need no special options (start-up is the slow part).</summary>
public sealed class SharedServer : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;
    public async Task InitializeAsync() => Server = await TestServer.StartAsync();
    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class SharedServerCollection : ICollectionFixture<SharedServer>
{
    public const string Name = "shared server";
}
