using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Xml.Linq;
using Ipop.Xmpp.Stanzas;
using Ipop.Xmpp.Xml;
using Microsoft.Extensions.Logging;

namespace Ipop.Xmpp.Connection;

/// <summary>
/// One client-to-server XMPP session: TCP, STARTTLS (RFC 6120 §5), SASL (§6), resource binding (§7)
/// and, if the server insists, a session (RFC 3921 §3). After <see cref="OpenAsync"/> it reads and
/// writes top-level elements; any failure ends the session and the owner reconnects with a new one.
/// Bytes flow transport → <see cref="PipeReader"/> → <see cref="XmppStreamReader"/>, which frames
/// stanzas and drops (and reports to <see cref="SkippedStanzaLog"/>) any it cannot accept, and
/// writes go through a <see cref="PipeWriter"/> under a lock so stanzas never interleave.
/// </summary>
internal sealed partial class XmppConnection : IAsyncDisposable
{
    private readonly XmppSignalingOptions _options;
    private readonly ILogger _logger;
    private readonly Socket _socket;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly XmppXmlLimits _limits;
    private readonly SkippedStanzaLog? _skipped;
    private Stream _transport;
    private PipeReader _pipeReader;
    private Stream _pipeStream;
    private PipeWriter _writer;
    private XmppStreamReader? _reader;
    private int _disposed;
    private bool _streamEnded;

    private XmppConnection(XmppSignalingOptions options, ILogger logger, Socket socket, SkippedStanzaLog? skipped)
    {
        _options = options;
        _logger = logger;
        _socket = socket;
        _skipped = skipped;
        _limits = XmppXmlLimits.Default with { MaxStanzaBytes = options.MaxStanzaBytes };
        _transport = new NetworkStream(socket, ownsSocket: false);
        _pipeReader = PipeReader.Create(_transport, new StreamPipeReaderOptions(bufferSize: 8192, leaveOpen: true));
        _pipeStream = _pipeReader.AsStream(leaveOpen: true);
        _writer = PipeWriter.Create(_transport, new StreamPipeWriterOptions(leaveOpen: true));
        Domain = Jid.Parse(options.Jid).Domain;
    }

    /// <summary>The JID domain we log in to.</summary>
    public string Domain { get; }

    /// <summary>The full JID the server bound for us.</summary>
    public Jid BoundJid { get; private set; }

    /// <summary>True once TLS is up.</summary>
    public bool IsSecure { get; private set; }

    /// <summary>The SASL mechanism used.</summary>
    public string? Mechanism { get; private set; }

    /// <summary>
    /// The local address this connection's socket is bound to, if it is no longer assigned to this host; null while it
    /// is (or when the socket is gone). A connection whose address was removed (renumbered, moved from Wi-Fi to wired)
    /// is dead before any error reaches it: the server's segments go to an address that is not ours any more, and ours
    /// cannot leave from it. Knowing that spares the 2 s of an unanswered ping after a network change.
    /// </summary>
    public IPAddress? LostLocalAddress()
    {
        IPAddress address;
        try
        {
            if (_socket.LocalEndPoint is not IPEndPoint local)
            {
                return null;
            }

            address = local.Address.IsIPv4MappedToIPv6 ? local.Address.MapToIPv4() : local.Address;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }

        return IsAssigned(address) ? null : address;
    }

    /// <summary>
    /// Whether <paramref name="address"/> is assigned to this host (in this network namespace): the kernel refuses to
    /// bind a socket to an address that is not (EADDRNOTAVAIL). Exact, and cheaper than listing every interface. With
    /// <c>ip_nonlocal_bind</c> set every address binds: then this says true and the caller falls back to a ping.
    /// </summary>
    private static bool IsAssigned(IPAddress address)
    {
        try
        {
            using var probe = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            probe.Bind(new IPEndPoint(address, 0));
            return true;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            return false;
        }
    }

    /// <summary>Connects and negotiates a session; throws <see cref="XmppSignalingException"/> with a precise reason on failure.</summary>
    /// <param name="options">Account, server and limits.</param>
    /// <param name="resource">The resource to bind.</param>
    /// <param name="logger">Session log.</param>
    /// <param name="time">Clock of the connect deadline.</param>
    /// <param name="skipped">Counts and logs stanzas the reader drops; none if null.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    public static async Task<XmppConnection> OpenAsync(XmppSignalingOptions options, string resource, ILogger logger, TimeProvider time, SkippedStanzaLog? skipped, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(options.ConnectTimeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        Socket socket = await ConnectSocketAsync(options, logger, timeout.Token);
        var connection = new XmppConnection(options, logger, socket, skipped);
        // XmlReader cannot be cancelled; closing the socket unblocks it.
        using CancellationTokenRegistration abort = timeout.Token.Register(() => socket.Dispose());
        try
        {
            await connection.NegotiateAsync(resource, timeout.Token);
            return connection;
        }
        catch (Exception ex)
        {
            await connection.DisposeAsync();
            if (ex is XmppSignalingException)
            {
                throw;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("Connecting was cancelled.", ex, cancellationToken);
            }

            if (timeout.IsCancellationRequested)
            {
                throw new XmppSignalingException(XmppErrorKind.Network, $"Connecting to {Describe(options)} timed out after {options.ConnectTimeout.TotalSeconds:0.#} s during stream negotiation.", ex);
            }

            throw ex switch
            {
                XmppXmlException x => new XmppSignalingException(XmppErrorKind.Protocol, $"Server {Describe(options)} sent bad XML during negotiation: {x.Message}", x),
                EndOfStreamException or IOException or SocketException or ObjectDisposedException => new XmppSignalingException(XmppErrorKind.Network, $"Connection to {Describe(options)} closed during negotiation: {ex.Message}", ex),
                _ => new XmppSignalingException(XmppErrorKind.Protocol, $"Negotiation with {Describe(options)} failed: {ex.Message}", ex),
            };
        }
    }

    private static string Describe(XmppSignalingOptions options) => $"{options.Server ?? Jid.Parse(options.Jid).Domain}:{options.Port}";

    private static async Task<Socket> ConnectSocketAsync(XmppSignalingOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        string domain = Jid.Parse(options.Jid).Domain;
        var targets = new List<(string Host, int Port)>();
        if (!string.IsNullOrWhiteSpace(options.Server))
        {
            targets.Add((options.Server, options.Port));
        }
        else
        {
            try
            {
                targets.AddRange(await DnsSrvResolver.ResolveAsync("_xmpp-client._tcp." + domain, cancellationToken));
            }
            catch (Exception ex) when (ex is SocketException or IOException or TimeoutException or FormatException)
            {
                LogSrvFailed(logger, domain, ex.Message);
            }

            // RFC 6120 §3.2.2: without SRV records fall back to the domain itself on the default port.
            targets.Add((domain, options.Port));
        }

        Exception? last = null;
        foreach ((string host, int port) in targets)
        {
            IPAddress[] addresses;
            try
            {
                addresses = IPAddress.TryParse(host, out IPAddress? literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
            }
            catch (SocketException ex)
            {
                last = new XmppSignalingException(XmppErrorKind.Network, $"Cannot resolve XMPP server host '{host}': {ex.Message}", ex);
                continue;
            }

            foreach (IPAddress address in addresses)
            {
                var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken);
                    LogConnected(logger, address, port);
                    return socket;
                }
                catch (SocketException ex)
                {
                    socket.Dispose();
                    last = new XmppSignalingException(XmppErrorKind.Network, $"Cannot connect to XMPP server {host} ({address}:{port}): {ex.Message}", ex);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    socket.Dispose();
                }
                catch (OperationCanceledException ex)
                {
                    socket.Dispose();
                    throw new XmppSignalingException(XmppErrorKind.Network, $"Connecting to XMPP server {host} ({address}:{port}) timed out.", ex);
                }
            }
        }

        throw last ?? new XmppSignalingException(XmppErrorKind.Network, $"No address found for XMPP server of '{domain}'.");
    }

    /// <summary>Reads the next element; a stream error or the end of the stream throws.</summary>
    private async Task<XElement> ReadRequiredAsync()
    {
        XElement? element = await ReadAsync();

        // A server that closes the stream mid-login is shutting down or overloaded: worth another try.
        return element ?? throw new XmppSignalingException(XmppErrorKind.Network, "Server closed the stream during negotiation.");
    }

    /// <summary>Reads the next top-level element; <c>null</c> when the server closed the stream. A stream error throws.</summary>
    public async Task<XElement?> ReadAsync()
    {
        XElement? element = await _reader!.ReadElementAsync();
        if (element is not null && element.Name == XName.Get("error", XmppNamespaces.Streams))
        {
            string condition = element.Elements().FirstOrDefault(e => e.Name.NamespaceName == XmppNamespaces.StreamErrors && e.Name.LocalName != "text")?.Name.LocalName ?? "undefined-condition";
            string? text = element.Element(XName.Get("text", XmppNamespaces.StreamErrors))?.Value;
            throw new XmppSignalingException(IsTransient(condition) ? XmppErrorKind.Network : XmppErrorKind.Protocol, $"Server sent stream error '{condition}'{(string.IsNullOrEmpty(text) ? string.Empty : ": " + text)}.");
        }

        return element;
    }

    /// <summary>
    /// Stream errors (RFC 6120 §4.9.3) that say the server is restarting, overloaded or lost the
    /// connection, as opposed to ones about our account or configuration (host-unknown,
    /// not-authorized, conflict, …): a login that gets one is retried.
    /// </summary>
    internal static bool IsTransient(string condition) => condition is "system-shutdown" or "resource-constraint" or "connection-timeout"
        or "reset" or "internal-server-error" or "remote-connection-failed" or "undefined-condition";

    public ValueTask SendAsync(XElement element, CancellationToken cancellationToken)
        => SendRawAsync(StanzaBuilder.Serialize(element), cancellationToken);

    public ValueTask SendRawAsync(string text, CancellationToken cancellationToken)
        => SendRawAsync(text, endsStream: false, cancellationToken);

    private async ValueTask SendRawAsync(string text, bool endsStream, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (_streamEnded)
            {
                // RFC 6120 §4.4: after our closing tag we MUST NOT send anything more on the stream
                // (answers the read loop might still produce while the server closes its side).
                return;
            }

            _streamEnded = endsStream;
            int max = Encoding.UTF8.GetMaxByteCount(text.Length);
            Span<byte> span = _writer.GetSpan(max);
            int written = Encoding.UTF8.GetBytes(text, span);
            _writer.Advance(written);
            FlushResult result = await _writer.FlushAsync(cancellationToken);
            if (result.IsCompleted)
            {
                throw new IOException("The connection is closed.");
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Sends a stream error (RFC 6120 §4.9) and closes; best effort.</summary>
    public async Task CloseAsync(string? streamErrorCondition)
    {
        await EndStreamAsync(streamErrorCondition);
        await DisposeAsync();
    }

    /// <summary>
    /// Sends our closing tag (after a stream error if <paramref name="streamErrorCondition"/> is set),
    /// after which nothing more is sent, but keeps the connection: RFC 6120 §4.4 says to wait for the
    /// server's own closing tag before terminating TCP. The read loop sees that closing tag as the
    /// end of the stream; best effort.
    /// </summary>
    public async Task EndStreamAsync(string? streamErrorCondition = null)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            string tail = streamErrorCondition is null
                ? "</stream:stream>"
                : $"<stream:error><{streamErrorCondition} xmlns='{XmppNamespaces.StreamErrors}'/></stream:error></stream:stream>";
            await SendRawAsync(tail, endsStream: true, cts.Token);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException or InvalidOperationException)
        {
            // The peer is gone already; nothing to tell it.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // The reader may be inside ReadAsync on another task; closing the socket ends that read, and
        // the XmlReader holds nothing but managed buffers, so it is left to the garbage collector.
        _socket.Dispose();
        try
        {
            await _transport.DisposeAsync();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            // Already torn down.
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Debug, Message = "TCP connected to {Address}:{Port}")]
    private static partial void LogConnected(ILogger logger, IPAddress address, int port);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "DNS SRV lookup for {Domain} failed: {Reason}; trying the domain itself")]
    private static partial void LogSrvFailed(ILogger logger, string domain, string reason);
}
