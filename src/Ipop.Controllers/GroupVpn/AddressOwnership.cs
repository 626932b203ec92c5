using System.Net;

namespace Ipop.Controllers.GroupVpn;

/// <summary>
/// Who holds which address in the group, as this node sees it. An address belongs to the member that held
/// it first: a later claim for it is refused (and remembered, so the claimant gets it once the holder gives it
/// up or leaves). Claims are taken in the order this node's controller loop receives them, so the result is
/// deterministic for a given sequence of claims.
/// </summary>
/// <remarks>
/// Observers may see two simultaneous claims in different orders; that lasts only until the two claimants
/// resolve the conflict between themselves (the node whose id sorts higher moves, <see cref="GroupAddressAllocator.MustYield"/>),
/// after which one claim is left and every observer agrees. Our own addresses are never granted to anyone.
/// </remarks>
internal sealed class AddressOwnership
{
    private readonly Dictionary<PeerId, HashSet<IPAddress>> _claims = [];
    private readonly Dictionary<(PeerId Peer, IPAddress Address), long> _order = [];

    // Per address, its claims in the order they came (a claim's sequence number only grows, so appending keeps the
    // order). Addresses are independent of each other, so a resolve looks only at the addresses whose claims changed
    // since the last one: a group of N members resolves after every batch of changes, and walking all N claims (sorted)
    // each time made every join or leave cost O(N log N) per member.
    private readonly Dictionary<IPAddress, List<(long Sequence, PeerId Peer)>> _claimants = [];
    private readonly HashSet<IPAddress> _touched = [];
    private readonly Dictionary<IPAddress, PeerId> _held = [];
    private readonly HashSet<(PeerId Peer, IPAddress Address)> _refused = [];
    private HashSet<IPAddress>? _own;
    private long _next;

    /// <summary>One refused claim: <see cref="Holder"/> is <c>null</c> when the address is this node's own.</summary>
    public readonly record struct Refusal(PeerId Claimant, IPAddress Address, PeerId? Holder);

    /// <summary>Addresses and their holders.</summary>
    public IReadOnlyDictionary<IPAddress, PeerId> Held => _held;

    /// <summary>Every address some member claims (held or not).</summary>
    public IReadOnlySet<IPAddress> Claimed => _claims.Values.SelectMany(c => c).ToHashSet();

    /// <summary>Replaces <paramref name="peer"/>'s claim with <paramref name="addresses"/> (call <see cref="Resolve"/> next).</summary>
    public void Claim(PeerId peer, IEnumerable<IPAddress> addresses)
    {
        var now = addresses.ToHashSet();
        if (_claims.TryGetValue(peer, out HashSet<IPAddress>? before))
        {
            foreach (IPAddress gone in before)
            {
                if (!now.Contains(gone))
                {
                    if (_order.Remove((peer, gone), out long sequence) && _claimants.TryGetValue(gone, out List<(long Sequence, PeerId Peer)>? list))
                    {
                        list.Remove((sequence, peer));
                        if (list.Count == 0)
                        {
                            _claimants.Remove(gone);
                        }
                    }

                    _refused.Remove((peer, gone));
                    _touched.Add(gone);
                }
            }
        }

        foreach (IPAddress a in now)
        {
            if (_order.TryAdd((peer, a), _next))
            {
                if (!_claimants.TryGetValue(a, out List<(long Sequence, PeerId Peer)>? list))
                {
                    _claimants[a] = list = new List<(long Sequence, PeerId Peer)>(1);
                }

                list.Add((_next, peer));
                _touched.Add(a);
            }

            _next++;
        }

        if (now.Count > 0)
        {
            _claims[peer] = now;
        }
        else
        {
            _claims.Remove(peer);
        }
    }

    /// <summary>Drops every claim of <paramref name="peer"/> (it left).</summary>
    public void Forget(PeerId peer) => Claim(peer, []);

    /// <summary>
    /// Decides the holder of every claimed address; returns the claims newly refused. Only the addresses whose claims
    /// changed since the last call are looked at (all of them when <paramref name="ours"/> changed).
    /// </summary>
    /// <param name="ours">This node's own addresses (never granted to anyone).</param>
    /// <param name="changed">When given, gets every address whose holder changed (or that lost its holder).</param>
    public List<Refusal> Resolve(IEnumerable<IPAddress> ours, ICollection<IPAddress>? changed = null)
    {
        var own = ours.ToHashSet();
        IEnumerable<IPAddress> addresses = _touched;
        if (_own is null || !_own.SetEquals(own))
        {
            _own = own;
            var all = new HashSet<IPAddress>(_claimants.Keys);
            all.UnionWith(_held.Keys);
            addresses = all;
        }

        var refusals = new List<Refusal>();
        foreach (IPAddress address in addresses)
        {
            if (_held.TryGetValue(address, out PeerId holder)
                && (own.Contains(address) || !_claims.TryGetValue(holder, out HashSet<IPAddress>? c) || !c.Contains(address)))
            {
                _held.Remove(address);
                changed?.Add(address);
            }

            if (!_claimants.TryGetValue(address, out List<(long Sequence, PeerId Peer)>? claims))
            {
                continue;
            }

            foreach ((long _, PeerId peer) in claims)
            {
                PeerId? current = own.Contains(address) ? null : _held.TryGetValue(address, out PeerId h) ? h : null;
                if (!own.Contains(address) && current is null)
                {
                    _held[address] = peer;
                    _refused.Remove((peer, address));
                    changed?.Add(address);
                }
                else if (current != peer && _refused.Add((peer, address)))
                {
                    refusals.Add(new Refusal(peer, address, current));
                }
            }
        }

        _touched.Clear();
        return refusals;
    }
}
