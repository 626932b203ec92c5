using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ipop.Samples.Hosting;

/// <summary>
/// Serves the node's status on a Unix socket (mode 0600): a client connects and reads one JSON
/// <see cref="StatusReport"/>, then the server closes. <c>groupvpn status</c> renders it as a table.
/// </summary>
public sealed partial class StatusSocketServer(string path, Func<StatusReport> report, ILogger<StatusSocketServer> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }

        if (File.Exists(path))
        {
            File.Delete(path);
        }

        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        listener.Listen(8);
        LogListening(logger, path);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                using Socket client = await listener.AcceptAsync(stoppingToken);
                try
                {
                    byte[] json = JsonSerializer.SerializeToUtf8Bytes(report(), StatusJson.Options);
                    await client.SendAsync(json, SocketFlags.None, stoppingToken);
                    client.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e) when (e is SocketException or IOException or InvalidOperationException)
                {
                    LogClientFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Reads the report from a running node.</summary>
    public static async Task<StatusReport> QueryAsync(string path, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        return await JsonSerializer.DeserializeAsync<StatusReport>(stream, StatusJson.Options, cancellationToken)
            ?? throw new InvalidDataException("empty status report");
    }

    [LoggerMessage(1, LogLevel.Information, "status socket listening on {Path}")]
    private static partial void LogListening(ILogger logger, string path);

    [LoggerMessage(2, LogLevel.Warning, "status client failed: {Reason}")]
    private static partial void LogClientFailed(ILogger logger, string reason);
}

internal static class StatusJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web) { WriteIndented = false };
}
