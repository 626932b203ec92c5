using System.Net.Sockets;
using System.Text.Json;
using Ipop.Samples.Hosting.Cli;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ipop.Samples.Hosting;

/// <summary>
/// Serves the node's diagnostics on a Unix socket (mode 0600) as JSON lines: a client writes one request line
/// (<c>{"command":"peers"}</c>), the node answers one response line, as often as the client asks (see docs/cli.md).
/// A line that is not a request gets an error line and the connection closes. <c>groupvpn status</c>,
/// <c>ipop-tincan peers</c> and the other CLI commands are its clients.
/// </summary>
public sealed partial class StatusSocketServer : BackgroundService
{
    /// <summary>Longest request line; a request is a few dozen bytes.</summary>
    private const int MaxRequest = 4096;

    /// <summary>Clients served at once; more wait in the listen backlog (a CLI is one connection for a short time).</summary>
    private const int MaxClients = 8;

    /// <summary>A connection that sends nothing for this long is closed.</summary>
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    private readonly string _path;
    private readonly NodeDiagnostics _diagnostics;
    private readonly ILogger<StatusSocketServer> _logger;
    private readonly SemaphoreSlim _slots = new(MaxClients);

    /// <summary>A server of the status report only (no links to describe).</summary>
    public StatusSocketServer(string path, Func<StatusReport> report, ILogger<StatusSocketServer> logger)
        : this(path, report, null, null, logger)
    {
    }

    /// <summary>A server of every command, for a node with <paramref name="tincan"/> and its <paramref name="options"/>.</summary>
    public StatusSocketServer(string path, Func<StatusReport> report, Ipop.ITincan? tincan, Ipop.Tincan.TincanOptions? options, ILogger<StatusSocketServer> logger)
    {
        _path = path;
        _diagnostics = new NodeDiagnostics(report, tincan, options);
        _logger = logger;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(_path));
            if (dir is not null)
            {
                Directory.CreateDirectory(dir);
            }

            if (File.Exists(_path))
            {
                if (await IsServedAsync(_path, stoppingToken))
                {
                    // Another running node owns it: taking it would leave that node unreachable by its CLI.
                    LogSocketUnavailable(_logger, _path, "another process is serving it; set Status:SocketPath");
                    return;
                }

                File.Delete(_path);
            }

            listener.Bind(new UnixDomainSocketEndPoint(_path));
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            // The node runs without its CLI rather than not at all.
            LogSocketUnavailable(_logger, _path, e.Message);
            return;
        }

        // The guard is for the analyzer: ipop-tincan links this file and its assembly does not say "linux only".
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        listener.Listen(8);
        LogListening(_logger, _path);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await _slots.WaitAsync(stoppingToken);
                Socket client = await listener.AcceptAsync(stoppingToken);
                _ = ServeAsync(client, stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            File.Delete(_path);
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _slots.Dispose();
        base.Dispose();
    }

    /// <summary>Reads the status report from a running node (the <c>status</c> command).</summary>
    public static async Task<StatusReport> QueryAsync(string path, CancellationToken cancellationToken)
    {
        await using StatusClient client = await StatusClient.ConnectAsync(path, cancellationToken);
        CliResponse response = await client.SendAsync(new CliRequest("status"), TimeSpan.FromSeconds(5), cancellationToken);
        return response.Status ?? throw new InvalidDataException($"{path} answered status without a report");
    }

    private async Task ServeAsync(Socket client, CancellationToken stoppingToken)
    {
        try
        {
            await using var stream = new NetworkStream(client, ownsSocket: true);
            var reader = new LineReader(stream, MaxRequest);
            while (!stoppingToken.IsCancellationRequested)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                idle.CancelAfter(IdleTimeout);
                string? line;
                try
                {
                    line = await reader.ReadLineAsync(idle.Token);
                }
                catch (InvalidDataException e)
                {
                    await WriteAsync(stream, CliResponse.Failure($"bad request: {e.Message}"), stoppingToken);
                    await CloseAfterErrorAsync(client, stream, stoppingToken);
                    return;
                }

                if (line is null)
                {
                    return;
                }

                CliRequest? request = Parse(line, out string? error);
                if (request is null)
                {
                    await WriteAsync(stream, CliResponse.Failure(error!), stoppingToken);
                    await CloseAfterErrorAsync(client, stream, stoppingToken);
                    return;
                }

                await WriteAsync(stream, await _diagnostics.HandleAsync(request, stoppingToken), stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is SocketException or IOException or InvalidOperationException or TimeoutException)
        {
            LogClientFailed(_logger, e.Message);
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>
    /// Ends the answer, then reads (and drops) what the client still sends, a bounded amount for a bounded time: a
    /// close with unread input resets the connection, and the client would lose the error line it has not read yet.
    /// </summary>
    private static async Task CloseAfterErrorAsync(Socket client, NetworkStream stream, CancellationToken stoppingToken)
    {
        client.Shutdown(SocketShutdown.Send);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        bound.CancelAfter(TimeSpan.FromSeconds(1));
        byte[] sink = new byte[4096];
        try
        {
            for (int i = 0; i < 16 && await stream.ReadAsync(sink, bound.Token) > 0; i++)
            {
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>True when a process accepts connections on the socket at <paramref name="path"/> (false: a stale file).</summary>
    private static async Task<bool> IsServedAsync(string path, CancellationToken cancellationToken)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>A request line, or null and the one-line reason.</summary>
    internal static CliRequest? Parse(string line, out string? error)
    {
        error = null;
        CliRequest? request = null;
        try
        {
            request = JsonSerializer.Deserialize(line, CliJson.Default.CliRequest);
        }
        catch (JsonException)
        {
        }

        if (request?.Command is null)
        {
            error = $"bad request: expected a JSON line such as {{\"command\":\"peers\"}}, got '{LineReader.Excerpt(line)}'";
            return null;
        }

        return request;
    }

    private static async Task WriteAsync(NetworkStream stream, CliResponse response, CancellationToken cancellationToken)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(response, CliJson.Default.CliResponse);
        byte[] line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        await stream.WriteAsync(line, cancellationToken);
    }

    [LoggerMessage(1, LogLevel.Information, "status socket listening on {Path}")]
    private static partial void LogListening(ILogger logger, string path);

    [LoggerMessage(3, LogLevel.Warning, "status socket {Path} unavailable, the CLI cannot reach this node: {Reason}")]
    private static partial void LogSocketUnavailable(ILogger logger, string path, string reason);

    [LoggerMessage(2, LogLevel.Warning, "status client failed: {Reason}")]
    private static partial void LogClientFailed(ILogger logger, string reason);
}
