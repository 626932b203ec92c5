using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// A scripted XMPP server on 127.0.0.1 for failure cases prosody will not produce: each accepted
/// connection runs the next behaviour (the last one repeats). Plain TCP (clients set RequireTls=false),
/// SCRAM-SHA-1 computed honestly so the client's server-signature check passes.
/// </summary>
public sealed partial class FakeXmppServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<FakeSession, Task>[] _behaviours;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private int _connections;

    public FakeXmppServer(params Func<FakeSession, Task>[] behaviours)
    {
        _behaviours = behaviours;
        _listener.Start();
        _accept = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections => Volatile.Read(ref _connections);

    public List<string> Transcripts { get; } = [];

    public XmppSignalingOptions Options(Action<XmppSignalingOptions>? configure = null)
    {
        var o = new XmppSignalingOptions
        {
            Jid = "user@lab.test",
            Password = "pencil",
            Server = "127.0.0.1",
            Port = Port,
            RequireTls = false,
            ConnectTimeout = TimeSpan.FromSeconds(3),
            ReconnectMinDelay = TimeSpan.FromMilliseconds(50),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(200),
        };
        configure?.Invoke(o);
        return o;
    }

    private async Task AcceptAsync()
    {
        for (int i = 0; i < 50 && !_stop.IsCancellationRequested; i++)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            int index = Interlocked.Increment(ref _connections) - 1;
            Func<FakeSession, Task> behaviour = _behaviours[Math.Min(index, _behaviours.Length - 1)];
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    var session = new FakeSession(client.GetStream(), _stop.Token);
                    try
                    {
                        await behaviour(session);
                    }
                    catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or TimeoutException)
                    {
                        // The client hung up or the test ended.
                    }

                    lock (Transcripts)
                    {
                        Transcripts.Add(session.Received);
                    }
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accept.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    /// <summary>One scripted connection.</summary>
    public sealed partial class FakeSession(NetworkStream stream, CancellationToken stop)
    {
        private const string Header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='fake' from='lab.test' version='1.0'>";
        private readonly StringBuilder _received = new();
        private int _consumed;

        public NetworkStream Stream => stream;

        public string Received
        {
            get
            {
                lock (_received)
                {
                    return _received.ToString();
                }
            }
        }

        public async Task SendAsync(string text) => await stream.WriteAsync(Encoding.UTF8.GetBytes(text), stop);

        /// <summary>Reads until <paramref name="marker"/> appears after what was consumed; returns the text up to it.</summary>
        public async Task<string> WaitForAsync(string marker, double seconds = 5)
            => (await WaitForAnyAsync([marker], seconds)).Text;

        /// <summary>Reads until the first of <paramref name="markers"/> appears after what was consumed; returns which one and the text up to it.</summary>
        public async Task<(string Marker, string Text)> WaitForAnyAsync(string[] markers, double seconds = 5)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
            timeout.CancelAfter(TimeSpan.FromSeconds(seconds));
            byte[] buffer = new byte[8192];
            while (true)
            {
                string all = Received;
                (string marker, int at) = markers.Select(m => (m, all.IndexOf(m, _consumed, StringComparison.Ordinal))).Where(x => x.Item2 >= 0).OrderBy(x => x.Item2).FirstOrDefault(("", -1));
                if (at >= 0)
                {
                    string part = all[_consumed..(at + marker.Length)];
                    _consumed = at + marker.Length;
                    return (marker, part);
                }

                int n = await stream.ReadAsync(buffer, timeout.Token);
                if (n == 0)
                {
                    throw new IOException("client closed");
                }

                lock (_received)
                {
                    _received.Append(Encoding.UTF8.GetString(buffer, 0, n));
                }
            }
        }

        /// <summary>Runs stream setup, SCRAM-SHA-1, bind and the roster fetch, like a real server.</summary>
        public async Task NegotiateAsync(string password = "pencil", bool forgeServerSignature = false, string rosterItems = "")
        {
            await WaitForAsync("<stream:stream");
            await SendAsync(Header + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>");
            string auth = await WaitForAsync("</auth>");
            string clientFirst = Encoding.UTF8.GetString(Convert.FromBase64String(Between(auth, ">", "</auth>")));
            string clientFirstBare = clientFirst[3..];
            string nonce = clientFirstBare.Split(",r=")[1] + "srvnonce";
            byte[] salt = RandomNumberGenerator.GetBytes(16);
            string serverFirst = $"r={nonce},s={Convert.ToBase64String(salt)},i=4096";
            await SendAsync($"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{B64(serverFirst)}</challenge>");
            string response = await WaitForAsync("</response>");
            string clientFinal = Encoding.UTF8.GetString(Convert.FromBase64String(Between(response, ">", "</response>")));
            string withoutProof = clientFinal[..clientFinal.IndexOf(",p=", StringComparison.Ordinal)];
            byte[] salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, 4096, HashAlgorithmName.SHA1, 20);
#pragma warning disable CA5350 // SCRAM-SHA-1 as the protocol defines it.
            byte[] serverKey = HMACSHA1.HashData(salted, Encoding.UTF8.GetBytes("Server Key"));
            byte[] signature = HMACSHA1.HashData(serverKey, Encoding.UTF8.GetBytes($"{clientFirstBare},{serverFirst},{withoutProof}"));
#pragma warning restore CA5350
            if (forgeServerSignature)
            {
                signature[0] ^= 0xFF;
            }

            await SendAsync($"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{B64("v=" + Convert.ToBase64String(signature))}</success>");
            await WaitForAsync("<stream:stream");
            await SendAsync(Header + "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
            string bind = await WaitForAsync("</iq>");
            string resource = Between(bind, "<resource>", "</resource>");
            await SendAsync($"<iq type='result' id='{IqId(bind)}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>user@lab.test/{resource}</jid></bind></iq>");
            string roster = await WaitForAsync("</iq>");
            await SendAsync($"<iq type='result' id='{IqId(roster)}'><query xmlns='jabber:iq:roster'>{rosterItems}</query></iq>");
            await WaitForAsync("</presence>");
        }

        /// <summary>Keeps the connection open, answering nothing, until the client leaves or the test ends.</summary>
        public async Task IdleAsync(double seconds = 30)
        {
            try
            {
                await WaitForAsync("\u0001never", seconds);
            }
            catch (OperationCanceledException)
            {
            }
        }

        /// <summary>Answers pings until the client leaves; answers the client's closing tag with ours, like a real server (RFC 6120 §4.4).</summary>
        public async Task ServeAsync(double seconds = 30)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                (string marker, string text) = await WaitForAnyAsync(["</iq>", "</stream:stream>"], seconds);
                if (marker == "</stream:stream>")
                {
                    await SendAsync("</stream:stream>");
                    return;
                }

                await SendAsync($"<iq type='result' id='{IqId(text)}' from='lab.test'/>");
            }
        }

        public static string IqId(string text) => IdPattern().Matches(text)[^1].Groups[1].Value;

        private static string Between(string text, string start, string end)
        {
            int e = text.LastIndexOf(end, StringComparison.Ordinal);
            int s = text.LastIndexOf(start, e - 1, StringComparison.Ordinal) + start.Length;
            return text[s..e];
        }

        private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

        [GeneratedRegex("<iq[^>]* id=\"([^\"]+)\"")]
        private static partial Regex IdPattern();
    }
}
