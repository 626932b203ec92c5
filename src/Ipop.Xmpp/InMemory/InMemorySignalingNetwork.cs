using System.Collections.Immutable;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp;

/// <summary>
/// An in-process stand-in for an XMPP server, for tests and simulations: users, friendships (mutual
/// subscriptions), groups (rooms) and presence, with the same semantics as <see cref="XmppSignaling"/>.
/// Create nodes with <see cref="CreateNode"/>; simulate outages with <see cref="InMemorySignaling.SimulateDisconnect"/>
/// and <see cref="SimulateServerRestart"/>.
/// </summary>
public sealed class InMemorySignalingNetwork
{
    private readonly object _gate = new();
    private readonly List<InMemorySignaling> _nodes = [];
    private readonly HashSet<(string, string)> _friends = [];
    private readonly HashSet<(string From, string To)> _pending = [];
    private int _nextResource;

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
        if (!Jid.TryParse(user, out Jid jid) || jid.Local is null || !jid.IsBare)
        {
            throw new ArgumentException($"'{user}' is not a bare user JID (user@domain).", nameof(user));
        }

        lock (_gate)
        {
            int n = ++_nextResource;
            var node = new InMemorySignaling(this, jid.Bare, new PeerId($"{jid.Bare}/ipop-{n:x8}"), policy, [.. (acceptedFriends ?? []).Select(f => Jid.Parse(f).Bare)]);
            _nodes.Add(node);
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

    /// <summary>True if the two users are friends.</summary>
    public bool AreFriends(string a, string b)
    {
        lock (_gate)
        {
            return _friends.Contains(Pair(a, b));
        }
    }

    internal object Gate => _gate;

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

        RecomputeLocked();
    }

    internal void RemoveLocked(InMemorySignaling node)
    {
        node.Connected = false;
        _nodes.Remove(node);
        RecomputeLocked();
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
            RecomputeLocked();
            return;
        }

        InMemorySignaling[] targets = [.. _nodes.Where(n => n.LocalUser == to)];
        if (targets.Any(n => n.Policy == FriendRequestPolicy.AcceptListed && n.AcceptedFriends.Contains(from)))
        {
            _friends.Add(Pair(from, to));
            RecomputeLocked();
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
            RecomputeLocked();
        }
    }

    internal void UnfriendLocked(string a, string b)
    {
        _pending.Remove((a, b));
        _pending.Remove((b, a));
        if (_friends.Remove(Pair(a, b)))
        {
            RecomputeLocked();
        }
    }

    internal InMemorySignaling? FindLocked(PeerId id) => _nodes.FirstOrDefault(n => n.LocalId == id);

    /// <summary>Every node's view of every other node, derived from the network state; changes become events.</summary>
    internal void RecomputeLocked()
    {
        foreach (InMemorySignaling viewer in _nodes)
        {
            foreach (InMemorySignaling other in _nodes)
            {
                if (other == viewer)
                {
                    continue;
                }

                bool visible = viewer.Connected && other.Connected;
                ImmutableArray<string> groups = visible ? [.. viewer.Groups.Intersect(other.Groups, StringComparer.Ordinal).Order(StringComparer.Ordinal)] : [];
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
                viewer.UpdatePeerLocked(other.LocalId, other.LocalUser, visible && relationship != PeerRelationship.None, relationship, groups);
            }
        }
    }

    private static (string, string) Pair(string a, string b) => string.CompareOrdinal(a, b) < 0 ? (a, b) : (b, a);
}
