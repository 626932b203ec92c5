using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Link;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The <see cref="ITincan"/> implementation: the link table, the index table that maps receiver indexes to
/// sessions, the socket, the deadline timer and the NIC thread, and the <see cref="Link.ControlLoop"/> that runs every link's
/// control work. Split into partial files: receive path (<c>LinkManager.Receive.cs</c>), interface path
/// (<c>LinkManager.Interface.cs</c>), NAT traversal hooks (<c>LinkManager.Nat.cs</c>) and local candidates
/// (<c>LinkManager.Candidates.cs</c>).
/// </summary>
internal sealed partial class LinkManager : ITincan
{
    /// <summary>Noise prologue: binds the protocol and its version into every handshake.</summary>
    internal static ReadOnlySpan<byte> Prologue => "Ipop v1"u8;

    /// <summary>Allowance over the MTU for an Ethernet header and one VLAN tag (TAP mode carries frames).</summary>
    internal const int FrameAllowance = 18;

    /// <summary>
    /// How long a controller call (CreateLink, RemoveLink) waits for the control loop to run its link step when
    /// another thread is running the loop; steps take microseconds, so in practice the call is synchronous.
    /// </summary>
    internal static readonly TimeSpan ControllerWait = TimeSpan.FromSeconds(1);

    private readonly TincanOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<uint, IndexEntry> _indices = new();
    private readonly ConcurrentDictionary<NodePublicKey, TincanLink> _byKey = new();
    private readonly ConcurrentDictionary<PeerId, TincanLink> _byPeer = new();
    private readonly Lock _tableLock = new();
    private readonly string _checkUsername;
    private readonly string _checkPassword;
    private readonly ConcurrentQueue<LinkStatusChangedEventArgs> _statusEvents = new();
    private volatile TincanLink[] _snapshot = [];
    private int _raising;
    private readonly Action _tickStep;
    private UdpMux? _mux;

    public LinkManager(TincanOptions options, StaticKeyPair keys, ILoggerFactory loggerFactory, TimeProvider time)
    {
        _options = options;
        Keys = keys;
        Time = time;
        _logger = loggerFactory.CreateLogger("Ipop.Tincan");
        MaxPayload = options.Mtu + FrameAllowance;
        Timings = LinkTimings.From(options, time.TimestampFrequency);
        _checkUsername = RandomToken(8);
        _checkPassword = RandomToken(24);
        TieBreaker = SecureRandom.NextUInt64();
        Metrics = new TincanMetrics(this);
        Control = new ControlLoop(RaiseQueuedEvents, OnControlStepThrew, ArmForNextDeadline);
        _tickStep = TickLinks;
        Deadlines = new DeadlineTimer(time, OnTick);
        OwnMacKey = HandshakeMac.DeriveKey(keys.PublicKeyBytes);
        StaticSecrets = new PeerStaticSecrets(keys);
        string? statePath = HandshakeTimestamps.ResolvePath(options);
        HandshakeTimestamps = statePath is null ? HandshakeTimestamps.InMemory(_logger) : HandshakeTimestamps.Load(statePath, _logger);
    }

    public NodePublicKey LocalKey => Keys.PublicKey;

    public IReadOnlyCollection<ITincanLink> Links => Array.AsReadOnly<ITincanLink>(_snapshot);

    public event EventHandler<LinkStatusChangedEventArgs>? LinkStatusChanged;

    public event EventHandler<ControlMessageEventArgs>? ControlMessageReceived;

    internal StaticKeyPair Keys { get; }

    /// <summary>Key of the mac1 that every handshake message sent to us must carry.</summary>
    internal byte[] OwnMacKey { get; }

    internal TimeProvider Time { get; }

    /// <summary>The last accepted initiation timestamp per peer key: outlives links, and restarts when a state path is set.</summary>
    internal HandshakeTimestamps HandshakeTimestamps { get; }

    /// <summary>The static-static secret with every authorized peer key (one DH less per initiation read).</summary>
    internal PeerStaticSecrets StaticSecrets { get; }

    internal DropCounters Drops { get; } = new();

    internal TincanMetrics Metrics { get; }

    /// <summary>The serialized loop that owns every link's control state (see <see cref="ControlLoop"/>).</summary>
    internal ControlLoop Control { get; }

    internal UdpMux? Mux => Volatile.Read(ref _mux);

    internal int MaxPayload { get; }

    /// <summary>The timers every link of this node uses.</summary>
    internal LinkTimings Timings { get; }

    /// <summary>Sessions are not used (nor accepted) past this age.</summary>
    internal long RejectAfterTicks => Timings.RejectAfter;

    /// <summary>Our ICE username fragment (the descriptor's check username).</summary>
    internal string CheckUsername => _checkUsername;

    /// <summary>Our ICE password (the descriptor's): mixed into every link's check keys (<see cref="Ice.CheckKeys"/>), never a key itself.</summary>
    internal string CheckPassword => _checkPassword;

    /// <summary>The ICE-CONTROLLING/ICE-CONTROLLED tie-breaker of this node (RFC 8445 section 7.1.1).</summary>
    internal ulong TieBreaker { get; }

    internal Candidate? LocalHostCandidate { get; private set; }

    /// <summary>Largest transport datagram we accept: header, payload, tag.</summary>
    internal int MaxTransportDatagram => Protocol.TransportHeader.Length + MaxPayload + TransportCipher.TagLength;

    internal IReadOnlyList<TincanLink> LinkSnapshot => _snapshot;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        lock (_tableLock)
        {
            // Again under the lock that dispose passes through: a start racing dispose either finishes first (and
            // dispose closes what it opened) or sees the flag.
            ThrowIfDisposed();
            if (_mux is not null)
            {
                return Task.CompletedTask;
            }

            UdpMux mux;
            try
            {
                mux = new UdpMux(IPAddress.Parse(_options.ListenAddress), _options.ListenPort, _options.SocketBufferBytes, Drops, _logger, _options.UdpBatchSize, _options.UdpSegmentationOffload, _options.UdpReceiveOffload, _options.Mtu);
            }
            catch (SocketException e)
            {
                throw new InvalidOperationException(
                    $"Tincan could not open UDP {_options.ListenAddress}:{_options.ListenPort} (Tincan:ListenAddress, Tincan:ListenPort): {e.SocketErrorCode}, {e.Message}", e);
            }

            mux.RegisterHandler((byte)Protocol.MessageType.HandshakeInitiation, (byte)Protocol.MessageType.TransportData, new IpopDatagramHandler(this));
            LocalHostCandidate = new Candidate(CandidateType.Host, mux.LocalEndPoint, Candidate.ComputePriority(CandidateType.Host, 65535), "host0");
            StartNat(mux);
            Volatile.Write(ref _mux, mux);
            mux.Start();
            StartRoaming();
            // The first wakeup at once: links created before the start begin their handshakes then.
            Deadlines.WakeBy(long.MinValue);
            LogStarted(_logger, mux.LocalEndPoint, mux.DualMode);
        }

        foreach (TincanLink link in _snapshot)
        {
            Nat?.PreparePeer(link, link.CandidatesFromDescriptor);
            link.Start(link.CandidatesFromDescriptor);
        }

        return Task.CompletedTask;
    }

    public ValueTask<LinkDescriptor> GetLocalDescriptorAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        UdpMux mux = Mux ?? throw new InvalidOperationException("Call ITincan.StartAsync before GetLocalDescriptorAsync: the socket's port is not known yet.");
        cancellationToken.ThrowIfCancellationRequested();
        return GatherAsync(mux, cancellationToken);
    }

    public ITincanLink CreateLink(PeerId peer, LinkDescriptor remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        ThrowIfDisposed();
        if (remote.Key.IsEmpty)
        {
            throw new ArgumentException("The descriptor has no key.", nameof(remote));
        }

        if (remote.Key == LocalKey)
        {
            throw new ArgumentException("The descriptor holds this node's own key; a node cannot link to itself.", nameof(remote));
        }

        TincanLink link;
        TincanLink? replaced = null;
        lock (_tableLock)
        {
            // Under the lock too: dispose closes the links it finds in the table after passing through this lock.
            ThrowIfDisposed();
            if (_byPeer.TryGetValue(peer, out TincanLink? existing) && existing.PeerKey == remote.Key)
            {
                link = existing;
                link.CandidatesFromDescriptor = remote.Candidates;
                link.SetCheckCredentials(remote.CheckUsername, remote.CheckPassword);
            }
            else
            {
                if (_byKey.TryGetValue(remote.Key, out TincanLink? other) && other.Peer != peer)
                {
                    throw new InvalidOperationException($"Key {remote.Key} is already authorized for peer '{other.Peer}'; remove that link first.");
                }

                if (existing is not null)
                {
                    // The peer came back with a new key: the old key loses its authorization now.
                    replaced = existing;
                    _byKey.TryRemove(existing.PeerKey, out _);
                    StaticSecrets.Remove(existing.PeerKey);
                }

                StaticSecrets.Add(remote.Key);

                link = new TincanLink(this, peer, remote) { CandidatesFromDescriptor = remote.Candidates };
                link.SetCheckCredentials(remote.CheckUsername, remote.CheckPassword);
                _byPeer[peer] = link;
                _byKey[remote.Key] = link;
                RebuildSnapshot();
            }
        }

        replaced?.Close(LinkFailureReason.Revoked);
        LogLinkCreated(_logger, peer.Value, remote.Candidates.Length);
        Nat?.PreparePeer(link, remote.Candidates);
        link.Start(remote.Candidates);
        return link;
    }

    public bool RemoveLink(PeerId peer)
    {
        TincanLink? link;
        lock (_tableLock)
        {
            if (!_byPeer.TryRemove(peer, out link))
            {
                return false;
            }

            _byKey.TryRemove(link.PeerKey, out _);
            StaticSecrets.Remove(link.PeerKey);
            RebuildSnapshot();
        }

        link.Close(LinkFailureReason.Revoked);
        return true;
    }

    public bool TryGetLink(PeerId peer, [NotNullWhen(true)] out ITincanLink? link)
    {
        if (_byPeer.TryGetValue(peer, out TincanLink? l))
        {
            link = l;
            return true;
        }

        link = null;
        return false;
    }

    internal uint Register(IndexEntry entry)
    {
        while (true)
        {
            uint index = SecureRandom.NextUInt32();
            if (index != 0 && _indices.TryAdd(index, entry))
            {
                entry.LocalIndex = index;
                return index;
            }
        }
    }

    internal void Replace(IndexEntry old, IndexEntry replacement) => _indices.TryUpdate(old.LocalIndex, replacement, old);

    internal void Unregister(IndexEntry entry) => _indices.TryRemove(new KeyValuePair<uint, IndexEntry>(entry.LocalIndex, entry));

    /// <summary>
    /// Records a status change (control loop); <see cref="RaiseQueuedEvents"/> raises it after the step, with nothing
    /// held, so a handler may call any <see cref="ITincan"/> method synchronously (remove or recreate the link).
    /// </summary>
    internal void QueueStatusChanged(TincanLink link, LinkStatus previous, LinkStatus current)
    {
        LogStatusChanged(_logger, link.Peer.Value, previous, current);
        _statusEvents.Enqueue(new LinkStatusChangedEventArgs(link, previous, current));
    }

    /// <summary>
    /// Raises the queued status changes in order, after each control step (nothing is held then). One thread raises at a
    /// time: a change queued meanwhile (a handler's own call) is delivered next by the raising thread.
    /// </summary>
    internal void RaiseQueuedEvents()
    {
        while (!_statusEvents.IsEmpty && Interlocked.CompareExchange(ref _raising, 1, 0) == 0)
        {
            try
            {
                while (_statusEvents.TryDequeue(out LinkStatusChangedEventArgs? e))
                {
                    ((TincanLink)e.Link).ShowStatus(e.Current);
                    RaiseStatusChanged(e);
                }
            }
            finally
            {
                Volatile.Write(ref _raising, 0);
            }
        }
    }

    private void RaiseStatusChanged(LinkStatusChangedEventArgs e)
    {
        try
        {
            LinkStatusChanged?.Invoke(this, e);
        }
#pragma warning disable CA1031 // A subscriber's bug must not break the handshake state machine.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogHandlerThrew(_logger, ex);
        }
    }

    internal void RaiseControlMessage(TincanLink link, ReadOnlySpan<byte> message)
    {
        EventHandler<ControlMessageEventArgs>? handler = ControlMessageReceived;
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(this, new ControlMessageEventArgs(link, message.ToArray()));
        }
#pragma warning disable CA1031 // A subscriber's bug must not stop the receive loop.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogHandlerThrew(_logger, e);
        }
    }

    private static string RandomToken(int length)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        return SecureRandom.GetString(alphabet, length);
    }

    private void RebuildSnapshot()
    {
        var links = new TincanLink[_byPeer.Count];
        int i = 0;
        foreach (KeyValuePair<PeerId, TincanLink> pair in _byPeer)
        {
            if (i < links.Length)
            {
                links[i++] = pair.Value;
            }
        }

        _snapshot = i == links.Length ? links : links[..i];
    }

    // A step that throws is a bug (handshake messages are validated before they change state), but one that a
    // datagram can trigger over and over: counted, and logged with its stack trace at most once per 10 s.
    private void OnControlStepThrew(Exception e)
    {
        Drops.Add(DropReason.HandlerError);
        if (Drops.ShouldLog(DropReason.HandlerError))
        {
            LogControlStepThrew(_logger, Drops.Get(DropReason.HandlerError), e);
        }
    }

    // Timer thread: the tick is a step of the control loop.
    private void OnTick() => Control.Post(_tickStep);

    private void TickLinks()
    {
        long now = Time.GetTimestamp();
        _lastTickAt = now;
        foreach (TincanLink link in _snapshot)
        {
            link.OnTick(now);
        }

        // A flooder that stopped sends no sample through the filter to unlist it.
        SweepFloodFilter();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Tincan listening on {EndPoint} (dual-stack {DualMode})")]
    private static partial void LogStarted(ILogger logger, IPEndPoint endPoint, bool dualMode);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Link to {Peer} created with {Candidates} candidates")]
    private static partial void LogLinkCreated(ILogger logger, string peer, int candidates);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Link to {Peer}: {Previous} -> {Current}")]
    private static partial void LogStatusChanged(ILogger logger, string peer, LinkStatus previous, LinkStatus current);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "An event handler threw")]
    private static partial void LogHandlerThrew(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error, Message = "A link control step threw (a bug; {Count} handler errors so far, logged at most every 10 s)")]
    private static partial void LogControlStepThrew(ILogger logger, long count, Exception exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Could not list network interfaces for host candidates")]
    private static partial void LogInterfacesFailed(ILogger logger, Exception exception);
}
