using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Runtime.InteropServices;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Turn;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Our TURN allocation and the relayed paths through it: allocating (and replacing a lost allocation), permissions
/// for the links' peers, the keepalive toward the server, and the relayed receive path.
/// </summary>
internal sealed partial class NatTraversal
{
    private static readonly TimeSpan TurnWaitBound = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ReallocateAfter = TimeSpan.FromSeconds(5);

    // Below the common 30 s UDP mapping timeout of NATs (RFC 4787 REQ-5 asks for at least 2 min, many do less):
    // keeps the mapping toward the TURN server, so refreshes and relayed data keep arriving even with no link busy.
    private static readonly TimeSpan ServerKeepaliveInterval = TimeSpan.FromSeconds(15);

    private readonly TurnClient _turn;
    private readonly IReadOnlyList<TurnServerOptions> _turnServers;
    private readonly ConcurrentDictionary<IPEndPoint, RelayedPath> _relayedPaths = new();

    // Receive thread's cache of the path for each channel number, so ChannelData finds its path with an array read;
    // an entry of an earlier allocation is replaced on first use.
    private readonly RelayedPath?[] _pathsByChannel = new RelayedPath?[ChannelData.MaxChannel - ChannelData.MinChannel + 1];
    private volatile Task<TurnAllocation?>? _allocationTask;
    private TurnAllocation? _allocation;
    private Candidate? _relayedCandidate;
    private ITimer? _keepaliveTimer;
    private string? _turnAuthenticationFailure;

    /// <summary>Our relayed candidate once an allocation succeeded.</summary>
    public Candidate? RelayedCandidate => Volatile.Read(ref _relayedCandidate);

    public TurnAllocation? Allocation => Volatile.Read(ref _allocation);

    /// <summary>Set when every configured TURN server refused our credentials: names the servers, never a password.</summary>
    public string? TurnAuthenticationFailure
    {
        get => Volatile.Read(ref _turnAuthenticationFailure);
        private set => Volatile.Write(ref _turnAuthenticationFailure, value);
    }

    /// <summary>
    /// Whether a relayed path in use binds a TURN channel (RFC 8656 section 12: 4 bytes of overhead instead of 36).
    /// A switch for diagnosis: with it off, relayed datagrams travel in Send/Data indications.
    /// </summary>
    public bool UseChannels { get; set; } = true;

    /// <summary>
    /// Installs TURN permissions for every IP among the peer's candidates (RFC 8656 section 9: per IP, ports
    /// ignored, so a symmetric NAT's fresh port per destination still passes). Fire and forget.
    /// </summary>
    public void PreparePeer(TincanLink link, ImmutableArray<Candidate> candidates)
    {
        if (_allocationTask is null || candidates.IsDefaultOrEmpty)
        {
            return;
        }

        _ = PreparePeerAsync(link, candidates);
    }

    /// <summary>The relayed path to <paramref name="peer"/> (as the relay sees it), or null without an allocation.</summary>
    public RelayedPath? RelayedPathTo(IPEndPoint peer)
    {
        TurnAllocation? allocation = Allocation;
        if (allocation is null || allocation.State != TurnAllocationState.Active || peer.AddressFamily != allocation.RelayedAddress.AddressFamily)
        {
            return null;
        }

        if (_relayedPaths.TryGetValue(peer, out RelayedPath? path) && ReferenceEquals(path.Allocation, allocation))
        {
            return path;
        }

        if (_relayedPaths.Count > 1024)
        {
            _relayedPaths.Clear();
            Array.Clear(_pathsByChannel);
        }

        path = new RelayedPath(this, allocation, peer);
        _relayedPaths[peer] = path;
        return path;
    }

    internal void LogChannelBindFailed(IPEndPoint peer, string reason) => LogBindFailed(_logger, peer, reason);

    // Fresh for every allocation: REST-style credentials from a shared secret expire (here after a day), and a
    // replacement allocation must not reuse expired ones.
    private TurnServerEndpoint ToEndpoint(TurnServerOptions s)
    {
        var endpoint = new StunServerEndpoint(s.Host.Trim(), s.Port);
        TurnCredentials credentials = !string.IsNullOrEmpty(s.SharedSecret)
            ? TurnCredentials.FromSharedSecret(s.SharedSecret, s.Username ?? "ipop", _time.GetUtcNow().AddDays(1))
            : new TurnCredentials(string.IsNullOrEmpty(s.Username) ? "ipop" : s.Username, s.Password ?? string.Empty);
        return new TurnServerEndpoint(endpoint, credentials);
    }

    private async Task<TurnAllocation?> AllocateAsync()
    {
        try
        {
            TurnAllocation allocation = await _turn.AllocateAsync([.. _turnServers.Select(ToEndpoint)], _stopping.Token).ConfigureAwait(false);
            allocation.DataReceived = OnDataIndication;
            allocation.Failed += OnAllocationFailed;
            IPEndPoint relayed = allocation.RelayedAddress;
            Volatile.Write(ref _relayedCandidate, new Candidate(CandidateType.Relayed, relayed, Candidate.ComputePriority(CandidateType.Relayed, 65535), "relay0", allocation.Server.ToString()));
            _allocationSource = SourceToward(allocation.ServerAddress);
            Volatile.Write(ref _allocation, allocation);
            TurnAuthenticationFailure = null;
            LogRelayReady(_logger, relayed, allocation.Server);
            return allocation;
        }
        catch (TurnAuthenticationException e)
        {
            TurnAuthenticationFailure = $"every TURN server refused our credentials ({string.Join(", ", _turnServers.Select(s => new StunServerEndpoint(s.Host.Trim(), s.Port).ToString()))})";
            LogTurnAuthFailed(_logger, e.Message);
        }
        catch (OperationCanceledException)
        {
        }
#pragma warning disable CA1031 // No relay is a degraded mode, not a crash: direct paths still work.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogNoRelay(_logger, e.Message);
        }

        return null;
    }

    // A Binding indication (RFC 8489 section 6.1: no response) is the smallest STUN message a server accepts.
    private void SendServerKeepalive()
    {
        if (Allocation is not { State: TurnAllocationState.Active } allocation)
        {
            return;
        }

        Span<byte> indication = stackalloc byte[StunMessage.HeaderLength + 8];
        var writer = new StunMessageWriter(indication, StunMethod.Binding, StunMessageClass.Indication, StunTransactionId.NewRandom());
        writer.AppendFingerprint();
        allocation.SendRaw(writer.Written);
    }

    private void OnAllocationFailed(TurnAllocation allocation, string reason)
    {
        if (!ReferenceEquals(Interlocked.CompareExchange(ref _allocation, null, allocation), allocation))
        {
            return;
        }

        Volatile.Write(ref _relayedCandidate, null);
        LogRelayLost(_logger, allocation.Server, reason);
        _demux.Unregister(allocation);
        if (!_stopping.IsCancellationRequested)
        {
            _allocationTask = ReallocateAsync();
        }
    }

    // A lost allocation (server restart, refresh refused) is replaced after a pause; the links' peers get
    // permissions on the new one. The new relayed address reaches peers through the controller (LocalCandidatesChanged).
    private async Task<TurnAllocation?> ReallocateAsync()
    {
        try
        {
            await Task.Delay(ReallocateAfter, _time, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        TurnAllocation? allocation = await AllocateAsync().ConfigureAwait(false);
        if (allocation is not null)
        {
            foreach (TincanLink link in _manager.LinkSnapshot)
            {
                PreparePeer(link, link.CandidatesFromDescriptor);
            }

            // The peers need the new relayed address: the controller sends them our descriptor again.
            _manager.RaiseLocalCandidatesChanged();
        }

        return allocation;
    }

    private async Task PreparePeerAsync(TincanLink link, ImmutableArray<Candidate> candidates)
    {
        try
        {
            TurnAllocation? allocation = await _allocationTask!.WaitAsync(TurnWaitBound, _stopping.Token).ConfigureAwait(false);
            if (allocation is null)
            {
                return;
            }

            foreach (IPAddress ip in candidates.Select(c => c.EndPoint.Address.IsIPv4MappedToIPv6 ? c.EndPoint.Address.MapToIPv4() : c.EndPoint.Address).Distinct())
            {
                if (ip.AddressFamily != allocation.RelayedAddress.AddressFamily)
                {
                    continue;
                }

                try
                {
                    await allocation.CreatePermissionAsync(ip, _stopping.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is TurnAllocationException or TurnAuthenticationException or TimeoutException)
                {
                    LogPermissionFailed(_logger, ip, e.Message);
                }
            }

            link.OnRelayReady();
        }
#pragma warning disable CA1031 // Fire and forget: a missing permission only means that relayed path will not work.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    // Receive thread, the relayed data path: ChannelData unwrapped by the demultiplexer goes with its path to the
    // link manager; no endpoint conversion, no dictionary, no copy. False: not from our TURN server.
    private bool TryHandleChannelData(Memory<byte> data, SocketAddress from)
    {
        if (!_demux.TryUnwrapChannelData(data.Span, from, out TurnChannel? channel, out Span<byte> payload))
        {
            return false;
        }

        if (channel is not null)
        {
            // The payload follows the 4-byte header in the receive buffer, which stays valid until the receive batch
            // ends: relayed packets join the batched interface write like direct ones.
            OnRelayed(PathOf(channel), channel.Peer, payload, data.Slice(ChannelData.HeaderLength, payload.Length));
        }

        return true;
    }

    private RelayedPath? PathOf(TurnChannel channel)
    {
        ref RelayedPath? cached = ref _pathsByChannel[channel.Number - ChannelData.MinChannel];
        RelayedPath? path = Volatile.Read(ref cached);
        if (path is null || !ReferenceEquals(path.Allocation, channel.Allocation))
        {
            path = RelayedPathTo(channel.Peer);
            Volatile.Write(ref cached, path);
        }

        return path;
    }

    // Receive thread: a Data indication's payload (RFC 8656 section 11.6), what the relay sends before a channel is bound.
    private void OnDataIndication(TurnAllocation allocation, IPEndPoint peer, ReadOnlySpan<byte> payload)
    {
        // The payload lies in the socket's receive buffer (writable); the Ipop path opens transport packets in place.
        Span<byte> datagram = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(payload), payload.Length);
        OnRelayed(RelayedPathTo(peer), peer, datagram, Memory<byte>.Empty);
    }

    // Receive thread: a datagram relayed from `peer` through our allocation; `path` is null if no path can be made.
    private void OnRelayed(RelayedPath? path, IPEndPoint peer, Span<byte> payload, Memory<byte> batchable)
    {
        if (!payload.IsEmpty && payload[0] < 4)
        {
            // A connectivity check (or its answer) from the peer that reached us through our allocation.
            if (StunMessage.TryParse(payload, out StunMessage check) != StunParseError.None || path is null || !TryHandleCheck(payload, check, peer, path))
            {
                _manager.Drops.Add(DropReason.Malformed);
            }

            return;
        }

        if (payload.IsEmpty || payload[0] < (byte)Protocol.MessageType.HandshakeInitiation || payload[0] > (byte)Protocol.MessageType.TransportData)
        {
            _manager.Drops.Add(DropReason.UnknownType);
            return;
        }

        if (path is null)
        {
            _manager.Drops.Add(DropReason.NoRoute);
            return;
        }

        if (batchable.IsEmpty)
        {
            _manager.OnRelayedDatagram(payload, path);
        }
        else
        {
            _manager.OnRelayedDatagram(batchable, path);
        }
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "Relayed candidate {Relayed} on TURN server {Server}")]
    private static partial void LogRelayReady(ILogger logger, IPEndPoint relayed, TurnServerEndpoint server);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "No relayed candidate: {Reason}")]
    private static partial void LogTurnAuthFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 42, Level = LogLevel.Warning, Message = "No relayed candidate: {Reason}")]
    private static partial void LogNoRelay(ILogger logger, string reason);

    [LoggerMessage(EventId = 43, Level = LogLevel.Warning, Message = "TURN allocation on {Server} failed: {Reason}; relayed paths are gone")]
    private static partial void LogRelayLost(ILogger logger, TurnServerEndpoint server, string reason);

    [LoggerMessage(EventId = 44, Level = LogLevel.Warning, Message = "TURN permission for {Peer} failed: {Reason}")]
    private static partial void LogPermissionFailed(ILogger logger, IPAddress peer, string reason);

    [LoggerMessage(EventId = 45, Level = LogLevel.Debug, Message = "TURN channel bind to {Peer} failed: {Reason}; sending Send indications meanwhile")]
    private static partial void LogBindFailed(ILogger logger, IPEndPoint peer, string reason);
}
