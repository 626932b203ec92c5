using System.Net;
using Ipop.Controllers.GroupVpn;

namespace Ipop.Controllers.Tests.GroupVpn;

/// <summary>
/// Who holds an address: the first claim holds it, later ones are refused once and wait, and a resolve looks only at
/// the addresses whose claims changed (reporting the ones whose holder changed), or at all of them when this node's own
/// addresses changed.
/// </summary>
public sealed class AddressOwnershipTests
{
    private static readonly PeerId Alice = new("alice@lab.test/a");
    private static readonly PeerId Bob = new("bob@lab.test/b");
    private static readonly PeerId Carol = new("carol@lab.test/c");
    private static readonly IPAddress A1 = IPAddress.Parse("198.18.0.1");
    private static readonly IPAddress A2 = IPAddress.Parse("198.18.0.2");
    private static readonly IPAddress Mine = IPAddress.Parse("198.18.0.9");

    [Fact]
    public void The_first_claim_holds_a_later_one_is_refused_once_and_takes_over_when_the_holder_leaves()
    {
        var owners = new AddressOwnership();
        owners.Claim(Alice, [A1]);
        owners.Claim(Bob, [A1]);
        var changed = new List<IPAddress>();
        List<AddressOwnership.Refusal> refused = owners.Resolve([Mine], changed);

        Assert.Equal(Alice, owners.Held[A1]);
        Assert.Equal([new AddressOwnership.Refusal(Bob, A1, Alice)], refused);
        Assert.Equal([A1], changed);

        changed.Clear();
        Assert.Empty(owners.Resolve([Mine], changed)); // nothing changed: no refusal repeated, nothing reported
        Assert.Empty(changed);

        owners.Forget(Alice);
        Assert.Empty(owners.Resolve([Mine], changed));
        Assert.Equal(Bob, owners.Held[A1]);
        Assert.Contains(A1, changed);
    }

    [Fact]
    public void A_resolve_reports_only_the_addresses_whose_holder_changed()
    {
        var owners = new AddressOwnership();
        owners.Claim(Alice, [A1]);
        owners.Claim(Bob, [A2]);
        owners.Resolve([Mine]);

        var changed = new HashSet<IPAddress>();
        owners.Claim(Carol, [A2]); // refused: Bob holds it, so no holder changes
        owners.Claim(Alice, [A1]); // the same claim again
        List<AddressOwnership.Refusal> refused = owners.Resolve([Mine], changed);
        Assert.Equal([new AddressOwnership.Refusal(Carol, A2, Bob)], refused);
        Assert.Empty(changed);

        owners.Claim(Bob, [IPAddress.Parse("198.18.0.3")]); // Bob moves: Carol gets A2, and Bob's new address is his
        owners.Resolve([Mine], changed);
        Assert.Equal(Carol, owners.Held[A2]);
        Assert.Equal(Bob, owners.Held[IPAddress.Parse("198.18.0.3")]);
        Assert.Equal(2, changed.Count);
        Assert.Equal(Alice, owners.Held[A1]);
    }

    [Fact]
    public void This_nodes_own_address_is_never_granted_and_goes_to_its_claimant_once_this_node_moves()
    {
        var owners = new AddressOwnership();
        owners.Claim(Alice, [Mine]);
        List<AddressOwnership.Refusal> refused = owners.Resolve([Mine]);
        Assert.Equal([new AddressOwnership.Refusal(Alice, Mine, null)], refused);
        Assert.False(owners.Held.ContainsKey(Mine));

        // This node moved: Alice's claim, untouched since, is looked at again because our own addresses changed.
        var changed = new List<IPAddress>();
        owners.Resolve([A2], changed);
        Assert.Equal(Alice, owners.Held[Mine]);
        Assert.Equal([Mine], changed);

        // And back: the address is ours again, so Alice loses it.
        changed.Clear();
        owners.Resolve([Mine], changed);
        Assert.False(owners.Held.ContainsKey(Mine));
        Assert.Equal([Mine], changed);
    }
}
