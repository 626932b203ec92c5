using System.Collections.Immutable;
using Ipop.Xmpp;

namespace Ipop.Testing;

/// <summary>
/// An in-process stand-in for a signaling server (XMPP), for tests and simulations: users, friendships (mutual
/// subscriptions), groups (rooms) and presence, with the same semantics as <see cref="XmppSignaling"/>.
/// Create nodes with <see cref="CreateNode"/>; simulate outages with <see cref="InMemorySignaling.SimulateDisconnect"/>,
/// <see cref="SimulateServerOutage"/> and <see cref="SimulateServerRestart"/>, lost, duplicated and reordered
/// messages with <see cref="Faults"/>, and deliver events on the test's own thread with <see cref="ManualDelivery"/>.
/// </summary>
public sealed class InMemorySignalingNetwork
{
    private readonly object _gate = new();
    private readonly List<InMemorySignaling> _nodes = [];
    private readonly Dictionary<PeerId, InMemorySignaling> _byId = [];
    private readonly HashSet<(string, string)> _friends = [];
    private readonly HashSet<(string From, string To)> _pending = [];
    private readonly Queue<Action> _manual = new();
    private readonly List<(InMemorySignaling Target, OverlayMessageEventArgs Message)> _held = [];
    private InMemorySignalingFaults? _faults;
    private int _nextResource;

    /// <summary>
    /// When true (set before creating nodes), events are not raised on background queues but kept until
    /// <see cref="DeliverPending"/> raises them on the caller's thread, so a test on a fake clock knows when
    /// everything sent so far has arrived.
    /// </summary>
    public bool ManualDelivery { get; init; }

    /// <summary>
    /// When true, a node whose session ends (<see cref="InMemorySignaling.SimulateDisconnect"/>, disposal) is reported
    /// to the others with <see cref="OverlayPeerEventArgs.SessionEnded"/>, as <see cref="XmppSignaling"/> reports an
    /// unavailable presence that removed nobody: controllers then keep its link for their presence grace. Off by
    /// default, so a disconnect is a plain departure.
    /// </summary>
    public bool ReportsSessionEnds { get; init; }

    /// <summary>Faults applied to messages from now on; <c>null</c> for none.</summary>
    public InMemorySignalingFaults? Faults
    {
        get
        {
            lock (_gate)
            {
                return _faults;
            }
        }

        set
        {
            value?.Validate();
            lock (_gate)
            {
                _faults = value;
            }
        }
    }

    /// <summary>Events waiting for <see cref="DeliverPending"/> (with <see cref="ManualDelivery"/>), including held-back messages.</summary>
    public int PendingDeliveries
    {
        get
        {
            lock (_gate)
            {
                return _manual.Count + _held.Count;
            }
        }
    }

    /// <summary>True between <see cref="SimulateServerOutage"/> and <see cref="EndServerOutage"/>.</summary>
    public bool InOutage { get; private set; }

    /// <summary>All nodes created on this network and not yet disposed.</summary>
    public IReadOnlyCollection<InMemorySignaling> Nodes
    {
        get
        {
            lock (_gate)
            {
                return [.. _nodes];
            }
        }
    }

    /// <summary>Creates a node of <paramref name="user"/> (a bare JID such as <c>alice@lab.test</c>); it is offline until <see cref="InMemorySignaling.ConnectAsync"/>.</summary>
    /// <param name="user">The user (bare identity).</param>
    /// <param name="policy">How this node answers friend requests.</param>
    /// <param name="acceptedFriends">Users accepted under <see cref="FriendRequestPolicy.AcceptListed"/>.</param>
    /// <returns>The new node.</returns>
    public InMemorySignaling CreateNode(string user, FriendRequestPolicy policy = FriendRequestPolicy.Ask, IEnumerable<string>? acceptedFriends = null)
    {
        if (!UserIds.TryBare(user, allowResource: false, out string bare))
        {
            throw new ArgumentException($"'{user}' is not a bare user JID (user@domain).", nameof(user));
        }

        lock (_gate)
        {
            int n = ++_nextResource;
            var node = new InMemorySignaling(this, bare, new PeerId($"{bare}/ipop-{n:x8}"), policy, [.. (acceptedFriends ?? []).Select(f => UserIds.Bare(f, nameof(acceptedFriends)))]);
            _nodes.Add(node);
            _byId[node.LocalId] = node;
            return node;
        }
    }

    /// <summary>Simulates a server restart: every connected node loses its session, then all reconnect.</summary>
    public void SimulateServerRestart()
    {
        InMemorySignaling[] connected;
        lock (_gate)
        {
            connected = [.. _nodes.Where(n => n.Connected)];
        }

        foreach (InMemorySignaling node in connected)
        {
            node.SimulateDisconnect("server restarted");
        }

        foreach (InMemorySignaling node in connected)
        {
            node.SimulateReconnect();
        }
    }

    /// <summary>
    /// Simulates the server going away for everyone: every node loses its session (<c>ConnectionChanged</c> false),
    /// keeps its last view of its peers without events, and its sends fail, until <see cref="EndServerOutage"/>.
    /// </summary>
    public void SimulateServerOutage()
    {
        lock (_gate)
        {
            InOutage = true;
            foreach (InMemorySignaling node in _nodes.Where(n => n.Connected))
            {
                node.Connected = false;
                node.Post(new SignalingConnectionEventArgs(false, "server outage"));
            }
        }
    }

    /// <summary>Ends <see cref="SimulateServerOutage"/>: every started node reconnects and its view is rebuilt from the current state.</summary>
    public void EndServerOutage()
    {
        lock (_gate)
        {
            InOutage = false;
            foreach (InMemorySignaling node in _nodes.Where(n => n.Started && !n.Connected))
            {
                SetConnectedLocked(node, true, null);
            }
        }
    }

    /// <summary>
    /// With <see cref="ManualDelivery"/>: raises every queued event on this thread, in order, including those that
    /// handlers queue meanwhile; messages held back by <see cref="Faults"/> go last. Bounded to 100 000 events.
    /// </summary>
    /// <returns>How many events were raised.</returns>
    public int DeliverPending()
    {
        int delivered = 0;
        while (delivered < 100_000)
        {
            Action? next;
            lock (_gate)
            {
                if (_manual.Count == 0 && _held.Count > 0)
                {
                    ReleaseHeldLocked(all: true);
                }

                if (!_manual.TryDequeue(out next))
                {
                    return delivered;
                }
            }

            next();
            delivered++;
        }

        return delivered;
    }

    /// <summary>
    /// Completes once every node has raised every event queued so far and its handlers returned (see
    /// <see cref="InMemorySignaling.WhenDeliveredAsync"/>).
    /// </summary>
    /// <returns>A task that completes when every node's queue is drained up to now.</returns>
    public Task WhenDeliveredAsync() => Task.WhenAll(Nodes.Select(n => n.WhenDeliveredAsync()));

    /// <summary>True if the two users are friends.</summary>
    public bool AreFriends(string a, string b)
    {
        lock (_gate)
        {
            return _friends.Contains(Pair(a, b));
        }
    }

    internal object Gate => _gate;

    internal void EnqueueLocked(Action raise) => _manual.Enqueue(raise);

    /// <summary>Delivers a message that passed the trust checks, unless <see cref="Faults"/> decide otherwise.</summary>
    internal void DeliverLocked(InMemorySignaling target, OverlayMessageEventArgs message)
    {
        InMemorySignalingFaults? faults = _faults;
        if (faults is null)
        {
            target.Post(message);
            return;
        }

        if (faults.Roll(faults.DropProbability))
        {
            target.CountDropped();
            return;
        }

        int copies = faults.Roll(faults.DuplicateProbability) ? 2 : 1;
        for (int i = 0; i < copies; i++)
        {
            if (faults.Roll(faults.ReorderProbability))
            {
                _held.Add((target, message));
            }
            else
            {
                target.Post(message);
            }
        }

        ReleaseHeldLocked(all: false);
    }

    private void ReleaseHeldLocked(bool all)
    {
        for (int i = 0; i < _held.Count;)
        {
            if (all || _faults is null || _faults.Random.NextDouble() < 0.5)
            {
                (InMemorySignaling target, OverlayMessageEventArgs message) = _held[i];
                _held.RemoveAt(i);
                if (target.Connected)
                {
                    target.Post(message);
                }
            }
            else
            {
                i++;
            }
        }
    }

    internal void SetConnectedLocked(InMemorySignaling node, bool connected, string? reason)
    {
        node.Connected = connected;
        node.Post(new SignalingConnectionEventArgs(connected, reason));
        if (connected)
        {
            foreach ((string from, string to) in _pending.Where(p => p.To == node.LocalUser))
            {
                node.Post(new FriendRequestEventArgs(from));
            }
        }

        RecomputeLocked(node);
    }

    internal void RemoveLocked(InMemorySignaling node)
    {
        node.Connected = false;
        _nodes.Remove(node);
        _byId.Remove(node.LocalId);

        // (The full recompute this replaces changed nothing either: a removed node is in nobody's recompute any more,
        // so the others keep their last view of it, as before.)
    }

    internal void RequestLocked(string from, string to)
    {
        if (from == to || _friends.Contains(Pair(from, to)))
        {
            return;
        }

        if (_pending.Remove((to, from)))
        {
            // They asked us first: our request is the approval (as with XMPP subscriptions).
            _friends.Add(Pair(from, to));
            RecomputeUsersLocked(from, to);
            return;
        }

        InMemorySignaling[] targets = [.. _nodes.Where(n => n.LocalUser == to)];
        if (targets.Any(n => n.Policy == FriendRequestPolicy.AcceptListed && n.AcceptedFriends.Contains(from)))
        {
            _friends.Add(Pair(from, to));
            RecomputeUsersLocked(from, to);
            return;
        }

        if (targets.Length > 0 && targets.All(n => n.Policy != FriendRequestPolicy.Ask))
        {
            return; // Refused by policy.
        }

        if (_pending.Add((from, to)))
        {
            foreach (InMemorySignaling target in targets.Where(n => n.Connected && n.Policy == FriendRequestPolicy.Ask))
            {
                target.Post(new FriendRequestEventArgs(from));
            }
        }
    }

    internal void RespondLocked(string user, string requester, bool accept)
    {
        if (_pending.Remove((requester, user)) && accept)
        {
            _friends.Add(Pair(user, requester));
            RecomputeUsersLocked(user, requester);
        }
    }

    internal void UnfriendLocked(string a, string b)
    {
        _pending.Remove((a, b));
        _pending.Remove((b, a));
        if (_friends.Remove(Pair(a, b)))
        {
            RecomputeUsersLocked(a, b);
        }
    }

    // Every message looks its target up: by id, not by a scan of every node.
    internal InMemorySignaling? FindLocked(PeerId id) => _byId.GetValueOrDefault(id);

    /// <summary>Every node's view of every other node, derived from the network state; changes become events.</summary>
    internal void RecomputeLocked()
    {
        foreach (InMemorySignaling viewer in _nodes)
        {
            if (!viewer.Connected)
            {
                continue; // a node without a session hears nothing: its view stays as it was until it reconnects
            }

            foreach (InMemorySignaling other in _nodes)
            {
                if (other != viewer)
                {
                    UpdateViewLocked(viewer, other);
                }
            }
        }
    }

    /// <summary>
    /// Like <see cref="RecomputeLocked()"/>, for a change that concerns only <paramref name="changed"/> (its session,
    /// groups or announcement): only the views it is part of can change, so this is O(N) instead of O(N²), which a
    /// simulation of a thousand nodes needs (each one connecting recomputed a million pairs).
    /// </summary>
    internal void RecomputeLocked(InMemorySignaling changed)
    {
        foreach (InMemorySignaling other in _nodes)
        {
            if (other == changed)
            {
                continue;
            }

            // Each node's events keep the order of the full recompute: its views of the others in creation order.
            if (changed.Connected)
            {
                UpdateViewLocked(changed, other);
            }

            if (other.Connected)
            {
                UpdateViewLocked(other, changed);
            }
        }
    }

    /// <summary>Like <see cref="RecomputeLocked()"/>, for a change of friendship between two users: only their nodes' views change.</summary>
    private void RecomputeUsersLocked(string a, string b)
    {
        foreach (InMemorySignaling node in _nodes.Where(n => n.LocalUser == a || n.LocalUser == b).ToList())
        {
            RecomputeLocked(node);
        }
    }

    private void UpdateViewLocked(InMemorySignaling viewer, InMemorySignaling other)
    {
        bool visible = viewer.Connected && other.Connected;
        ImmutableArray<string> groups = visible && viewer.Groups.Count > 0 && other.Groups.Count > 0 ? SharedGroups(viewer, other) : [];
        PeerRelationship relationship = PeerRelationship.None;
        if ((viewer.LocalUser == other.LocalUser || _friends.Contains(Pair(viewer.LocalUser, other.LocalUser))))
        {
            relationship |= PeerRelationship.Friend;
        }

        if (groups.Length > 0)
        {
            relationship |= PeerRelationship.GroupMember;
        }

        // As with XMPP: friendship outlives presence (roster), group membership does not (room occupancy).
        // The viewer hears that the other's session ended, not that it left: its groups are as they were.
        bool sessionEnded = ReportsSessionEnds && viewer.Connected && !other.Connected;
        viewer.UpdatePeerLocked(other.LocalId, other.LocalUser, visible && relationship != PeerRelationship.None, relationship, groups, visible ? other.Announcement : null, sessionEnded);
    }

    /// <summary>The groups both nodes joined, in order (a node's one group is shared, not copied, for each of its N peers).</summary>
    private static ImmutableArray<string> SharedGroups(InMemorySignaling viewer, InMemorySignaling other)
    {
        if (viewer.Groups.Count == 1 && other.Groups.Count == 1)
        {
            ImmutableArray<string> only = other.GroupList;
            return viewer.Groups.Contains(only[0]) ? only : [];
        }

        return [.. viewer.Groups.Intersect(other.Groups, StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    private static (string, string) Pair(string a, string b) => string.CompareOrdinal(a, b) < 0 ? (a, b) : (b, a);
}
