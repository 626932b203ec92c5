using System.Security.Cryptography;
using System.Text;

namespace Ipop.Testing;

/// <summary>
/// The link managers (<see cref="ITincan"/>) of many in-process nodes that see each other, without sockets or
/// crypto: a link connects once both ends hold a link to each other with each other's key (as Tincan does after
/// its handshake), and <see cref="ConnectDelay"/> later on <see cref="Time"/>. A link whose other end is removed
/// (and not created again) fails after <see cref="DeadPeerDelay"/>. Drive the rest by hand with <see cref="FakeTincan.SetStatus"/>.
/// </summary>
/// <remarks>
/// <para>
/// Time is <see cref="TimeProvider"/>: pass a fake one (e.g. <c>FakeTimeProvider</c>) and advance it to make the
/// delays pass. With the default <see cref="ConnectDelay"/> of zero, links connect inside the call that paired them. Events are raised on the calling thread after the network's lock is released, never while it is held.
/// </para>
/// <para>
/// Instead of polling, tests await <see cref="WaitUntilAsync"/>, which re-checks its condition after every change
/// anywhere in the network.
/// </para>
/// </remarks>
public sealed class FakeTincanNetwork
{
    private readonly List<FakeTincan> _nodes = [];
    private readonly List<(Func<bool> Condition, TaskCompletionSource Done)> _waiters = [];

    /// <summary>Creates an empty network on <paramref name="timeProvider"/> (<see cref="TimeProvider.System"/> if <c>null</c>).</summary>
    /// <param name="timeProvider">The clock for <see cref="ConnectDelay"/> and <see cref="DeadPeerDelay"/>.</param>
    public FakeTincanNetwork(TimeProvider? timeProvider = null) => Time = timeProvider ?? TimeProvider.System;

    /// <summary>The clock for the delays.</summary>
    public TimeProvider Time { get; }

    /// <summary>How long after both ends authorized each other a link becomes Connected (default zero: at once).</summary>
    public TimeSpan ConnectDelay { get; init; }

    /// <summary>
    /// How long after its other end is removed a Connected link fails with <see cref="LinkFailureReason.PeerUnreachable"/>,
    /// unless that end is created again meanwhile (Tincan's dead-peer detection). Default 5 s. Zero fails it at once,
    /// which also fails it when the other side merely replaces its link (remove, then create): two negotiators that
    /// replace failed links then keep failing each other's, so keep it above zero for them.
    /// </summary>
    public TimeSpan DeadPeerDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Every node created on this network.</summary>
    public IReadOnlyCollection<FakeTincan> Nodes
    {
        get
        {
            lock (Gate)
            {
                return [.. _nodes];
            }
        }
    }

    internal object Gate { get; } = new();

    /// <summary>
    /// Creates the link manager of node <paramref name="id"/> (pass the node's signaling identity,
    /// <see cref="IOverlaySignaling.LocalId"/>). Its key is derived from the id, so runs are repeatable.
    /// </summary>
    /// <param name="id">The node's overlay identity.</param>
    /// <returns>The node's fake link manager.</returns>
    /// <exception cref="ArgumentException">A node with this id exists already.</exception>
    public FakeTincan CreateNode(PeerId id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id.Value, nameof(id));
        lock (Gate)
        {
            if (_nodes.Any(n => n.Id == id))
            {
                throw new ArgumentException($"A node '{id}' exists already on this network.", nameof(id));
            }

            var node = new FakeTincan(this, id, new NodePublicKey(SHA256.HashData(Encoding.UTF8.GetBytes(id.Value))), $"198.18.{_nodes.Count / 250}.{(_nodes.Count % 250) + 1}:5000");
            _nodes.Add(node);
            return node;
        }
    }

    /// <summary>True if <paramref name="a"/> and <paramref name="b"/> both hold a Connected link to each other with the right keys.</summary>
    /// <param name="a">One node.</param>
    /// <param name="b">The other node.</param>
    /// <returns>Whether they are linked.</returns>
    public bool AreLinked(PeerId a, PeerId b)
    {
        lock (Gate)
        {
            FakeTincan? x = FindLocked(a);
            FakeTincan? y = FindLocked(b);
            return x is not null && y is not null
                && x.FindLocked(b) is { Status.State: LinkState.Connected } ab && ab.PeerKey == y.LocalKey
                && y.FindLocked(a) is { Status.State: LinkState.Connected } ba && ba.PeerKey == x.LocalKey;
        }
    }

    /// <summary>
    /// Completes once <paramref name="condition"/> holds: checked now and again after every link created, removed or
    /// changed anywhere in this network (on the thread that changed it, without the network's lock).
    /// </summary>
    /// <param name="condition">What to wait for; it must be quick and must not block.</param>
    /// <param name="cancellationToken">Stops waiting (then the task is cancelled).</param>
    /// <returns>A task that completes when the condition holds.</returns>
    public Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (Gate)
        {
            _waiters.Add((condition, done));
        }

        Changed();
        return done.Task.WaitAsync(cancellationToken);
    }

    internal FakeTincan? FindLocked(PeerId id) => _nodes.FirstOrDefault(n => n.Id == id);

    /// <summary>Re-evaluates the waiters (outside the lock: a condition may read the network).</summary>
    internal void Changed()
    {
        (Func<bool> Condition, TaskCompletionSource Done)[] waiters;
        lock (Gate)
        {
            _waiters.RemoveAll(w => w.Done.Task.IsCompleted);
            waiters = [.. _waiters];
        }

        foreach ((Func<bool> condition, TaskCompletionSource done) in waiters)
        {
            if (condition())
            {
                done.TrySetResult();
            }
        }
    }

    /// <summary>
    /// After <paramref name="node"/> created or updated <paramref name="link"/>: if the other end holds a
    /// matching link, both connect (now, or after <see cref="ConnectDelay"/>).
    /// </summary>
    internal void TryPairLocked(FakeTincan node, FakeTincanLink link, List<Action> raise)
    {
        if (ConnectDelay <= TimeSpan.Zero)
        {
            ConnectIfPairedLocked(node, link, raise);
            return;
        }

        ITimer? timer = null;
        timer = Time.CreateTimer(
            _ =>
            {
                var later = new List<Action>();
                lock (Gate)
                {
                    ConnectIfPairedLocked(node, link, later);
                }

                timer?.Dispose();
                Run(later);
            },
            null,
            ConnectDelay,
            Timeout.InfiniteTimeSpan);
    }

    /// <summary>After <paramref name="node"/> removed its link to <paramref name="peer"/>: the other end's Connected link dies.</summary>
    internal void PeerGoneLocked(FakeTincan node, PeerId peer, List<Action> raise)
    {
        FakeTincan? other = FindLocked(peer);
        if (other?.FindLocked(node.Id) is not { Status.State: LinkState.Connected } orphan)
        {
            return;
        }

        var dead = new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable, "the peer's end of the link is gone");
        if (DeadPeerDelay <= TimeSpan.Zero)
        {
            other.SetLocked(orphan, dead, raise);
            return;
        }

        ITimer? timer = null;
        timer = Time.CreateTimer(
            _ =>
            {
                var later = new List<Action>();
                lock (Gate)
                {
                    // Only if that end is still missing and the orphan still current and up.
                    if (FindLocked(node.Id)?.FindLocked(peer) is null && ReferenceEquals(other.FindLocked(node.Id), orphan) && orphan.Status.State == LinkState.Connected)
                    {
                        other.SetLocked(orphan, dead, later);
                    }
                }

                timer?.Dispose();
                Run(later);
            },
            null,
            DeadPeerDelay,
            Timeout.InfiniteTimeSpan);
    }

    internal void Run(List<Action> raise)
    {
        foreach (Action r in raise)
        {
            r();
        }

        Changed();
    }

    private void ConnectIfPairedLocked(FakeTincan node, FakeTincanLink link, List<Action> raise)
    {
        FakeTincan? other = FindLocked(link.Peer);
        if (other is null || !ReferenceEquals(node.FindLocked(link.Peer), link) || link.PeerKey != other.LocalKey
            || other.FindLocked(node.Id) is not { } back || back.PeerKey != node.LocalKey)
        {
            return; // not (yet, or no longer) both sides: the other side's CreateLink pairs them
        }

        var up = new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None);
        if (link.Status.State == LinkState.Connecting)
        {
            node.SetLocked(link, up, raise);
        }

        if (back.Status.State == LinkState.Connecting)
        {
            other.SetLocked(back, up, raise);
        }
    }
}
