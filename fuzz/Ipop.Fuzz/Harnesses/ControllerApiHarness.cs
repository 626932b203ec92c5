using System.Net.Sockets;
using System.Text;
using Ipop.Tincan;
using Ipop.Tincan.Api;
using Microsoft.Extensions.Options;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// Controller API JSON lines, end to end: a real <see cref="ControllerApiServer"/> (over a never-started Tincan) on
/// a Unix socket in the scratch directory, one client connection. The input's lines are sent as requests, then an
/// <c>echo</c> marks the end; every answer up to the marker is read. Rejection: any error answer except
/// <c>internal_error</c>, which the server sends when an operation threw something it did not expect: a finding.
/// </summary>
internal sealed class ControllerApiHarness : IHarness, IDisposable
{
    private const string Marker = "{\"v\":1,\"id\":\"fuzz-end\",\"op\":\"echo\",\"args\":{}}\n";
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(5);

    private readonly ITincan _tincan;
    private readonly ControllerApiServer _server;
    private readonly string _socketPath = Path.Combine(ScratchDirectory.Path, "api.sock");
    private readonly byte[] _readBuffer = new byte[64 * 1024];
    private Socket? _client;
    private readonly StringBuilder _pending = new();

    public ControllerApiHarness()
    {
        _tincan = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
        _server = new ControllerApiServer(Options.Create(new ControllerApiOptions { SocketPath = _socketPath, MaxRequestBytes = 8192 }), _tincan);
        _server.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    public string Name => "controller-api";

    public string Description => "Controller API JSON lines through a real ControllerApiServer (Ipop.Tincan.Api)";

    public void Run(ReadOnlySpan<byte> input)
    {
        // A line over the limit closes the connection by design (the next request's start is lost): not a finding.
        foreach (Range line in input.Split((byte)'\n'))
        {
            if (input[line].Length >= 8192)
            {
                return;
            }
        }

        Socket client = Connect();
        client.Send(input);
        client.Send("\n"u8);
        client.Send(Encoding.UTF8.GetBytes(Marker));
        DateTime deadline = DateTime.UtcNow + AnswerTimeout;
        while (true)
        {
            string? answer = NextLine(client, deadline);
            if (answer is null)
            {
                // The server closed the session (it may, e.g. on a line too large): start a new one next time.
                Disconnect();
                return;
            }

            if (answer.Contains("\"internal_error\"", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"The controller API answered internal_error: {answer}");
            }

            if (answer.Contains("\"id\":\"fuzz-end\"", StringComparison.Ordinal))
            {
                return;
            }
        }
    }

    public void Dispose()
    {
        Disconnect();
        _server.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        _tincan.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private Socket Connect()
    {
        if (_client is null)
        {
            _client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            _client.Connect(new UnixDomainSocketEndPoint(_socketPath));
            _pending.Clear();
        }

        return _client;
    }

    private void Disconnect()
    {
        _client?.Dispose();
        _client = null;
    }

    private string? NextLine(Socket client, DateTime deadline)
    {
        while (true)
        {
            string text = _pending.ToString();
            int newline = text.IndexOf('\n', StringComparison.Ordinal);
            if (newline >= 0)
            {
                _pending.Remove(0, newline + 1);
                return text[..newline];
            }

            int wait = (int)Math.Max(1, (deadline - DateTime.UtcNow).TotalMicroseconds);
            if (DateTime.UtcNow > deadline || !client.Poll(wait, SelectMode.SelectRead))
            {
                throw new TimeoutException($"The controller API did not answer within {AnswerTimeout.TotalSeconds} s.");
            }

            int n = client.Receive(_readBuffer);
            if (n == 0)
            {
                return null;
            }

            _pending.Append(Encoding.UTF8.GetString(_readBuffer, 0, n));
        }
    }
}
