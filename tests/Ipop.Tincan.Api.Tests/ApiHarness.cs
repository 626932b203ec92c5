using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Ipop.Tincan.Api.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Api.Tests;

/// <summary>A started server on a real Unix socket in a private temp directory, with a fake Tincan; removes everything on dispose.</summary>
internal sealed class ApiHarness : IAsyncDisposable
{
    private readonly List<TestClient> _clients = [];

    private ApiHarness(string directory, ControllerApiServer server, FakeTincan tincan, FakeInterfaceFactory? interfaces, FakeTimeProvider time, LogForwarder forwarder)
    {
        Directory = directory;
        Server = server;
        Tincan = tincan;
        Interfaces = interfaces;
        Time = time;
        Logs = forwarder;
    }

    public string Directory { get; }

    public string SocketPath => Server.SocketPath;

    public ControllerApiServer Server { get; }

    public FakeTincan Tincan { get; }

    public FakeInterfaceFactory? Interfaces { get; }

    public FakeTimeProvider Time { get; }

    public LogForwarder Logs { get; }

    public static async Task<ApiHarness> StartAsync(Action<ControllerApiOptions>? configure = null, bool withInterfaces = true, FakeTincan? tincan = null, string? directory = null, IControllerRouterFactory? routers = null)
    {
        bool ownDirectory = directory is null;
        directory ??= System.IO.Directory.CreateTempSubdirectory("ipop-api-").FullName;
        var options = new ControllerApiOptions { SocketPath = Path.Combine(directory, "tincan.sock") };
        configure?.Invoke(options);
        tincan ??= new FakeTincan(1);
        FakeInterfaceFactory? interfaces = withInterfaces ? new FakeInterfaceFactory() : null;
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        var forwarder = new LogForwarder();
        var server = new ControllerApiServer(Options.Create(options), tincan, null, time, interfaces, routers) { LogForwarder = forwarder };
        try
        {
            await server.StartAsync(CancellationToken.None);
        }
        catch
        {
            await server.DisposeAsync();
            if (ownDirectory)
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }

            throw;
        }

        return new ApiHarness(directory, server, tincan, interfaces, time, forwarder);
    }

    public async Task<TestClient> ConnectAsync()
    {
        var client = await TestClient.ConnectAsync(SocketPath);
        _clients.Add(client);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (TestClient client in _clients)
        {
            client.Dispose();
        }

        await Server.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>A raw line-level client: what goes on the wire is exactly what the test writes and reads.</summary>
internal sealed class TestClient : IDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;
    private readonly Queue<string> _events = new();
    private int _nextId;

    private TestClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new StreamReader(_stream, new UTF8Encoding(false), false, 4096, leaveOpen: true);
    }

    public Socket Socket => _socket;

    public static async Task<TestClient> ConnectAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return new TestClient(socket);
    }

    public async Task SendRawAsync(string text) => await _stream.WriteAsync(Encoding.UTF8.GetBytes(text));

    public Task SendLineAsync(string line) => SendRawAsync(line + "\n");

    /// <summary>The next line from the server, or null when the server closed the connection.</summary>
    public async Task<string?> ReadLineAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            return await _reader.ReadLineAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No line from the server in time.");
        }
    }

    /// <summary>Sends one request line and returns its response line; events that arrive first are kept for <see cref="NextEventAsync"/>.</summary>
    public async Task<string> CallLineAsync(string line)
    {
        await SendLineAsync(line);
        return await ReadResponseAsync();
    }

    public async Task<string> ReadResponseAsync()
    {
        while (true)
        {
            string next = await ReadLineAsync() ?? throw new IOException("The server closed the connection.");
            using JsonDocument doc = JsonDocument.Parse(next);
            if (doc.RootElement.TryGetProperty("event", out _))
            {
                _events.Enqueue(next);
                continue;
            }

            return next;
        }
    }

    /// <summary>Builds a request with the next id and returns the parsed response.</summary>
    public async Task<JsonElement> CallAsync(string op, string args = "{}")
    {
        int id = ++_nextId;
        string line = await CallLineAsync($"{{\"v\":1,\"id\":{id},\"op\":\"{op}\",\"args\":{args}}}");
        using JsonDocument doc = JsonDocument.Parse(line);
        Assert.Equal(id, doc.RootElement.GetProperty("id").GetInt32());
        return doc.RootElement.Clone();
    }

    /// <summary>Calls and asserts success; returns <c>result</c>.</summary>
    public async Task<JsonElement> OkAsync(string op, string args = "{}")
    {
        JsonElement response = await CallAsync(op, args);
        Assert.True(response.GetProperty("ok").GetBoolean(), $"{op} failed: {response}");
        return response.GetProperty("result");
    }

    /// <summary>Calls and asserts failure with <paramref name="code"/>; returns the message.</summary>
    public async Task<string> FailAsync(string op, string args, string code)
    {
        JsonElement response = await CallAsync(op, args);
        Assert.False(response.GetProperty("ok").GetBoolean(), $"{op} should fail with {code}: {response}");
        Assert.Equal(code, response.GetProperty("error").GetProperty("code").GetString());
        return response.GetProperty("error").GetProperty("message").GetString()!;
    }

    public async Task<string> NextEventLineAsync(TimeSpan? timeout = null)
    {
        if (_events.TryDequeue(out string? queued))
        {
            return queued;
        }

        string? line = await ReadLineAsync(timeout);
        return line ?? throw new IOException("The server closed the connection.");
    }

    public async Task<JsonElement> NextEventAsync(string kind, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        for (int i = 0; i < 100_000 && DateTime.UtcNow < deadline; i++)
        {
            string line = await NextEventLineAsync(deadline - DateTime.UtcNow);
            using JsonDocument doc = JsonDocument.Parse(line);
            if (doc.RootElement.GetProperty("event").GetString() == kind)
            {
                return doc.RootElement.Clone();
            }
        }

        throw new TimeoutException($"No {kind} event in time.");
    }

    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
    }
}
