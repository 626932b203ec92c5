using System.Net.Sockets;
using System.Text.Json;

namespace Ipop.Samples.Hosting.Cli;

/// <summary>
/// The CLI's side of the status socket: one connection, a request line, a response line, as often as needed (ping).
/// Every failure is a <see cref="StatusClientException"/> whose message is one line naming the socket and what is wrong.
/// </summary>
internal sealed class StatusClient : IAsyncDisposable
{
    /// <summary>Longest response line accepted (a node with a thousand peers stays well under it).</summary>
    private const int MaxResponse = 4 * 1024 * 1024;

    private readonly NetworkStream _stream;
    private readonly LineReader _reader;

    private StatusClient(string path, Socket socket)
    {
        Path = path;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new LineReader(_stream, MaxResponse);
    }

    public string Path { get; }

    /// <summary>Connects to a node's status socket.</summary>
    public static async Task<StatusClient> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new StatusClientException($"no status socket at {path} (is the node running? see Status:SocketPath)");
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            return new StatusClient(path, socket);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new StatusClientException(e.SocketErrorCode switch
            {
                _ when !File.Exists(path) => $"no status socket at {path} (is the node running? see Status:SocketPath)",
                SocketError.ConnectionRefused => $"nothing listens on {path} (the node is not running, or this is not a socket)",
                SocketError.AccessDenied => $"cannot open {path}: permission denied (run as the node's user or root)",
                _ => $"cannot connect to {path}: {e.Message}",
            });
        }
    }

    /// <summary>Sends one request and reads its response; a response with an error becomes the exception.</summary>
    public async Task<CliResponse> SendAsync(CliRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        string? answer;
        try
        {
            // One write: a listener that answers and closes at once must not fail a second write with EPIPE.
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(request, CliJson.Default.CliRequest);
            byte[] line = new byte[json.Length + 1];
            json.CopyTo(line, 0);
            line[^1] = (byte)'\n';
            await _stream.WriteAsync(line, deadline.Token);
            answer = await _reader.ReadLineAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StatusClientException($"{Path} did not answer within {timeout.TotalSeconds:0.#} s (not an Ipop node, or the node is stuck)");
        }
        catch (InvalidDataException)
        {
            throw new StatusClientException($"{Path} does not speak the Ipop status protocol (it answered more than {MaxResponse / (1024 * 1024)} MiB without a newline)");
        }
        catch (IOException e)
        {
            throw new StatusClientException($"{Path} closed the connection: {e.InnerException?.Message ?? e.Message}");
        }

        if (answer is null)
        {
            throw new StatusClientException($"{Path} closed the connection without answering (not an Ipop node, or one of another version)");
        }

        CliResponse? response = null;
        try
        {
            response = JsonSerializer.Deserialize(answer, CliJson.Default.CliResponse);
        }
        catch (JsonException)
        {
        }

        if (response is null || response.Protocol != CliResponse.Name)
        {
            throw new StatusClientException($"{Path} does not speak the Ipop status protocol ({CliResponse.Name}); it answered '{LineReader.Excerpt(answer)}'");
        }

        if (response.Error is { } error)
        {
            throw new StatusClientException(error);
        }

        return response;
    }

    public async ValueTask DisposeAsync() => await _stream.DisposeAsync();
}

/// <summary>A CLI request failed; the message is the one line to print.</summary>
internal sealed class StatusClientException(string message) : Exception(message);
