using System.Net;
using Ipop.Controllers.GroupVpn;

namespace Ipop.Controllers.Tests.GroupVpn;

public sealed class GroupAddressAllocatorTests
{
    [Fact]
    public void Proposals_are_deterministic_per_identity_and_stay_inside_the_host_range()
    {
        var subnet = IPNetwork.Parse("198.19.0.0/24");
        var a1 = new GroupAddressAllocator(subnet, "alice@lab.test/ipop-1");
        var a2 = new GroupAddressAllocator(subnet, "alice@lab.test/ipop-1");
        Assert.Equal(a1.Current, a2.Current);
        var seen = new HashSet<IPAddress>();
        for (int i = 0; i < 254; i++)
        {
            InterfaceAddress next = a1.MoveNext(seen);
            Assert.True(subnet.Contains(next.Address));
            Assert.NotEqual(IPAddress.Parse("198.19.0.0"), next.Address);
            Assert.NotEqual(IPAddress.Parse("198.19.0.255"), next.Address);
            Assert.True(seen.Add(next.Address), $"{next} proposed twice");
            if (seen.Count == 254)
            {
                break;
            }
        }

        Assert.Throws<InvalidOperationException>(() => a1.MoveNext(seen));
    }

    [Fact]
    public void Exactly_one_side_of_a_conflict_yields()
    {
        Assert.True(GroupAddressAllocator.MustYield("bob", "alice"));
        Assert.False(GroupAddressAllocator.MustYield("alice", "bob"));
    }
}
