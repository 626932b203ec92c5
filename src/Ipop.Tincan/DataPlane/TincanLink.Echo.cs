using System.Collections.Concurrent;
using System.Net;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Link;
using Ipop.Tincan.Diagnostics;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// <c>ping PEER</c>: an echo inside the link (<see cref="ContentKind.EchoRequest"/>/<see cref="ContentKind.EchoReply"/>), so it
/// measures the tunnel itself on TUN and TAP links alike and needs no addresses. Rare and user-driven: nothing here runs
/// unless someone pings, and the state (the pending table) exists only after the first ping.
/// </summary>
internal sealed partial class TincanLink
{
    /// <summary>Echoes waiting for their reply at most; more are refused (a script pinging in a tight loop).</summary>
    private const int MaxPendingEchoes = 64;

    private ConcurrentDictionary<ulong, PendingEcho>? _echoes;
    private long _echoIds;

    /// <summary>Sends one echo request on the path in use and waits for its reply.</summary>
    /// <returns>The reply's round trip and path; <see cref="EchoResult.Replied"/> false on timeout or when not connected.</returns>
    internal async Task<EchoResult> EchoAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        LinkSnapshot? snapshot = Snapshot;
        if (snapshot is null || Volatile.Read(ref _closed))
        {
            return EchoResult.NotSent(Status.ToString());
        }

        ConcurrentDictionary<ulong, PendingEcho> echoes = LazyInitializer.EnsureInitialized(ref _echoes, static () => new ConcurrentDictionary<ulong, PendingEcho>());
        if (echoes.Count >= MaxPendingEchoes)
        {
            return EchoResult.NotSent($"{MaxPendingEchoes} echoes already wait for replies");
        }

        ulong id = (ulong)Interlocked.Increment(ref _echoIds);
        ILinkPath path = snapshot.Path;
        var pending = new PendingEcho(_manager.Time.GetTimestamp());
        echoes[id] = pending;
        try
        {
            byte[] buffer = new byte[PayloadOffset + EchoMessage.Length + TransportCipher.TagLength];
            Span<byte> payload = buffer.AsSpan(PayloadOffset, EchoMessage.Length);
            EchoMessage.Write(payload, id);

            // "via" the path in use: a ping is not traffic that keepalives or dead-peer detection should count.
            if (!SendPayload(buffer, payload, ContentKind.EchoRequest, via: path))
            {
                return EchoResult.NotSent("the request could not be sent (see the drop counters)");
            }

            (long repliedAt, bool relayed, IPEndPoint? from) = await pending.Reply.Task.WaitAsync(timeout, _manager.Time, cancellationToken).ConfigureAwait(false);
            TimeSpan rtt = _manager.Time.GetElapsedTime(pending.SentAt, repliedAt);
            Candidate? local = LocalCandidateOf(path);
            Candidate? remote = RemoteCandidateOf(path);
            string? turn = TurnServerOf(path, remote);
            return new EchoResult(true, rtt, path.Kind, local, remote ?? (from is null ? null : new Candidate(CandidateType.PeerReflexive, from, 0, "prflx")), turn, relayed, null);
        }
        catch (TimeoutException)
        {
            Candidate? remote = RemoteCandidateOf(path);
            return new EchoResult(false, null, path.Kind, LocalCandidateOf(path), remote, TurnServerOf(path, remote), path is RelayedPath, $"no reply within {timeout.TotalSeconds:0.###} s");
        }
        finally
        {
            echoes.TryRemove(id, out _);
        }
    }

    /// <summary>Receive thread: the peer pings us; the reply goes back on the path in use.</summary>
    internal void OnEchoRequest(ReadOnlySpan<byte> payload, RelayedPath? relay)
    {
        ILinkPath? path = Snapshot?.Path ?? relay;
        if (!EchoMessage.TryRead(payload, out ulong id) || path is null)
        {
            CountDrop(path is null ? DropReason.NoSession : DropReason.Malformed);
            return;
        }

        Span<byte> buffer = stackalloc byte[PayloadOffset + EchoMessage.Length + TransportCipher.TagLength];
        Span<byte> reply = buffer.Slice(PayloadOffset, EchoMessage.Length);
        EchoMessage.Write(reply, id);
        SendPayload(buffer, reply, ContentKind.EchoReply, via: path);
    }

    /// <summary>Receive thread: the reply to one of our echoes (an unknown id is a late reply: ignored).</summary>
    internal void OnEchoReply(ReadOnlySpan<byte> payload, SocketAddress from, RelayedPath? relay, long now)
    {
        if (!EchoMessage.TryRead(payload, out ulong id))
        {
            CountDrop(DropReason.Malformed);
            return;
        }

        if (Volatile.Read(ref _echoes) is { } echoes && echoes.TryGetValue(id, out PendingEcho? pending))
        {
            pending.Reply.TrySetResult((now, relay is not null, relay is null ? UdpMux.ToEndPoint(from) : null));
        }
    }

    private sealed class PendingEcho(long sentAt)
    {
        public long SentAt { get; } = sentAt;

        public TaskCompletionSource<(long At, bool Relayed, IPEndPoint? From)> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
