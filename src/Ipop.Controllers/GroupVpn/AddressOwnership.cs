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
    private readonly Dictionary<IPAddress, PeerId> _held = [];
    private readonly HashSet<(PeerId Peer, IPAddress Address)> _refused = [];
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
            foreach (IPAddress gone in before.Where(a => !now.Contains(a)))
            {
                _order.Remove((peer, gone));
                _refused.Remove((peer, gone));
            }
        }

        foreach (IPAddress a in now)
        {
            _order.TryAdd((peer, a), _next++);
        }

        _claims[peer] = now;
    }

    /// <summary>Drops every claim of <paramref name="peer"/> (it left).</summary>
    public void Forget(PeerId peer) => Claim(peer, []);

    /// <summary>Decides the holder of every claimed address; returns the claims newly refused.</summary>
    public List<Refusal> Resolve(IEnumerable<IPAddress> ours)
    {
        var own = ours.ToHashSet();
        foreach ((IPAddress address, PeerId holder) in _held.ToList())
        {
            if (own.Contains(address) || !_claims.TryGetValue(holder, out HashSet<IPAddress>? c) || !c.Contains(address))
            {
                _held.Remove(address);
            }
        }

        var refusals = new List<Refusal>();
        foreach (KeyValuePair<(PeerId Peer, IPAddress Address), long> claim in _order.OrderBy(o => o.Value))
        {
            (PeerId peer, IPAddress address) = claim.Key;
            PeerId? holder = own.Contains(address) ? null : _held.TryGetValue(address, out PeerId h) ? h : null;
            if (!own.Contains(address) && holder is null)
            {
                _held[address] = peer;
                _refused.Remove(claim.Key);
            }
            else if (holder != peer && _refused.Add(claim.Key))
            {
                refusals.Add(new Refusal(peer, address, holder));
            }
        }

        foreach (PeerId empty in _claims.Where(c => c.Value.Count == 0).Select(c => c.Key).ToList())
        {
            _claims.Remove(empty);
        }

        return refusals;
    }
}
