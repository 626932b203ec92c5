using System.Collections.Immutable;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>NAT traversal hooks: gathering, TURN permissions and the relayed receive path.</summary>
internal sealed partial class LinkManager
{
    private NatTraversal? _nat;

    internal NatTraversal? Nat => Volatile.Read(ref _nat);

    /// <summary>
    /// Receive thread: a datagram the relay delivered from a peer, into the normal handshake/transport demux with
    /// <paramref name="path"/> as its way in.
    /// </summary>
    internal void OnRelayedDatagram(Span<byte> datagram, RelayedPath path) => OnIpopDatagram(datagram, path.ServerAddress, path);

    /// <summary>As <see cref="OnRelayedDatagram(Span{byte}, RelayedPath)"/>, for memory valid until the receive batch ends.</summary>
    internal void OnRelayedDatagram(Memory<byte> datagram, RelayedPath path) => OnIpopDatagram(datagram, path.ServerAddress, path);

    private void StartNat(UdpMux mux)
    {
        var nat = new NatTraversal(this, mux, _options, _logger);
        mux.RegisterHandler(0, 3, nat);
        mux.RegisterHandler(64, 79, nat);
        Volatile.Write(ref _nat, nat);
        nat.Start();
    }

    private async ValueTask<LinkDescriptor> GatherAsync(UdpMux mux, CancellationToken cancellationToken)
    {
        ImmutableArray<Candidate> host = GatherHostCandidates(mux);
        NatTraversal? nat = Nat;
        if (nat is null)
        {
            return new LinkDescriptor(LocalKey, host, _checkUsername, _checkPassword);
        }

        ImmutableArray<Candidate> more = await nat.GatherAsync(host, cancellationToken).ConfigureAwait(false);
        return new LinkDescriptor(LocalKey, host.AddRange(more), _checkUsername, _checkPassword);
    }

    internal void LogLinkConnected(TincanLink link, LinkPath kind, Candidate? local, Candidate? remote, double elapsedMs) =>
        LogConnected(_logger, link.Peer.Value, kind, local, remote, elapsedMs);

    internal void LogLinkPathChanged(TincanLink link, LinkPath from, LinkPath to, ILinkPath path) =>
        LogPathChanged(_logger, link.Peer.Value, from, to, path);

    internal void LogPairSelected(TincanLink link, Ice.CandidatePair pair, TimeSpan after) =>
        LogSelected(_logger, link.Peer.Value, pair, after.TotalMilliseconds);

    [LoggerMessage(EventId = 33, Level = LogLevel.Debug, Message = "Link to {Peer}: connectivity checks selected {Pair} after {ElapsedMs:F0} ms")]
    private static partial void LogSelected(ILogger logger, string peer, Ice.CandidatePair pair, double elapsedMs);

    internal void LogPathSilent(TincanLink link, TimeSpan silent) =>
        LogSilent(_logger, link.Peer.Value, link.Path?.Kind ?? LinkPath.DirectHost, silent.TotalSeconds);

    [LoggerMessage(EventId = 32, Level = LogLevel.Information, Message = "Link to {Peer}: nothing heard over {Path} for {Seconds:F1} s; handshaking over every path")]
    private static partial void LogSilent(ILogger logger, string peer, LinkPath path, double seconds);

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "Link to {Peer} connected over {Path}: {Local} <-> {Remote} in {ElapsedMs:F0} ms")]
    private static partial void LogConnected(ILogger logger, string peer, LinkPath path, Candidate? local, Candidate? remote, double elapsedMs);

    [LoggerMessage(EventId = 31, Level = LogLevel.Information, Message = "Link to {Peer} switched path {From} -> {To} ({Via})")]
    private static partial void LogPathChanged(ILogger logger, string peer, LinkPath from, LinkPath to, ILinkPath via);
}
