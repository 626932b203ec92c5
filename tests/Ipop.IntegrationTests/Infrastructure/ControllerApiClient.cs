using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>
/// A minimal client of the controller API (newline-delimited JSON over a Unix socket), written from
/// docs/controller-api.md the way a third-party controller would: requests with ids, responses matched by id,
/// events skipped.
/// </summary>
internal sealed class ControllerApiClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;
    private int _nextId;

    private ControllerApiClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    public static async Task<ControllerApiClient> ConnectAsync(string path, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
        return new ControllerApiClient(socket);
    }

    /// <summary>Sends one request and returns its <c>result</c>; throws with the API's code and message on an error.</summary>
    public async Task<JsonNode> RequestAsync(string op, JsonObject? args, CancellationToken ct)
    {
        int id = ++_nextId;
        var request = new JsonObject { ["v"] = 1, ["id"] = id, ["op"] = op };
        if (args is not null)
        {
            request["args"] = args;
        }

        byte[] line = Encoding.UTF8.GetBytes(request.ToJsonString() + "\n");
        await _stream.WriteAsync(line, ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (true)
        {
            string response = await _reader.ReadLineAsync(timeout.Token) ?? throw new IOException($"API closed the connection during {op}");
            JsonNode node = JsonNode.Parse(response)!;
            if (node["id"] is null || node["id"]!.GetValue<int>() != id)
            {
                continue; // an event, or an answer to someone else
            }

            if (node["ok"]!.GetValue<bool>())
            {
                return node["result"]!;
            }

            throw new InvalidOperationException($"{op} failed: {node["error"]!["code"]}: {node["error"]!["message"]}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        await _stream.DisposeAsync();
        _socket.Dispose();
    }
}
