using System.Buffers.Binary;
using System.Net;
using Ipop.Controllers.SocialVpn;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Controllers.Tests.SocialVpn;

public sealed class SocialVpnPartsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-svpn-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Pool_selection_skips_candidates_that_overlap_a_local_subnet_or_route()
    {
        IPNetwork[] candidates = [IPNetwork.Parse("198.19.100.0/24"), IPNetwork.Parse("198.19.101.0/24"), IPNetwork.Parse("198.19.102.0/24")];
        Assert.Equal(candidates[0], AddressPoolSelector.Select(candidates, []));
        Assert.Equal(candidates[1], AddressPoolSelector.Select(candidates, [IPNetwork.Parse("198.19.100.0/25")]));
        Assert.Equal(candidates[2], AddressPoolSelector.Select(candidates, [IPNetwork.Parse("198.19.100.0/24"), IPNetwork.Parse("198.19.101.77/32")]));
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => AddressPoolSelector.Select(candidates, [IPNetwork.Parse("198.19.0.0/16")]));
        Assert.Contains("configure SocialVpn:Pool", e.Message, StringComparison.Ordinal);
        Assert.All(AddressPoolSelector.DefaultCandidates, c => Assert.True(IPNetwork.Parse("198.19.0.0/16").Contains(c.BaseAddress)));
    }

    [Fact]
    public void The_default_pool_holds_over_4000_friends_and_still_avoids_local_subnets()
    {
        IPNetwork first = AddressPoolSelector.Select(AddressPoolSelector.DefaultCandidates, []);
        Assert.Equal(IPNetwork.Parse("198.19.96.0/20"), first);
        Assert.True((1 << (32 - first.PrefixLength)) - 3 >= 4000); // minus network, broadcast and our own address

        // A LAN inside the first /20 moves the pool to the next /20; a host that overlaps every /20 gets a free /24.
        Assert.Equal(IPNetwork.Parse("198.19.112.0/20"), AddressPoolSelector.Select(AddressPoolSelector.DefaultCandidates, [IPNetwork.Parse("198.19.100.0/24")]));
        Assert.Equal(IPNetwork.Parse("198.19.100.0/24"), AddressPoolSelector.Select(AddressPoolSelector.DefaultCandidates, [IPNetwork.Parse("198.19.96.0/22"), IPNetwork.Parse("198.19.112.0/20"), IPNetwork.Parse("198.19.128.0/17")]));

        // And a /20 view really gives 4,000 distinct friend addresses.
        var book = new FriendAddressBook(first, null, TimeSpan.FromDays(7), new FakeTimeProvider());
        var addresses = Enumerable.Range(0, 4000).Select(i => book.AddressOf(new PeerId($"f{i}@lab.test/1"))).ToHashSet();
        Assert.Equal(4000, addresses.Count);
        Assert.All(addresses, a => Assert.True(first.Contains(a) && !a.Equals(book.Self.Address)));
    }

    [Fact]
    public void Host_subnets_include_this_hosts_interfaces()
    {
        IReadOnlyCollection<IPNetwork> subnets = AddressPoolSelector.HostSubnets();
        Assert.DoesNotContain(subnets, s => s.BaseAddress.Equals(IPAddress.Parse("127.0.0.0")));
        Assert.All(subnets, s => Assert.Equal(System.Net.Sockets.AddressFamily.InterNetwork, s.BaseAddress.AddressFamily));
    }

    [Fact]
    public void Friend_addresses_are_distinct_and_survive_a_restart()
    {
        string path = Path.Combine(_dir, "book.json");
        var time = new FakeTimeProvider();
        var pool = IPNetwork.Parse("198.19.100.0/24");
        var book = new FriendAddressBook(pool, path, TimeSpan.FromDays(7), time);
        IPAddress bob = book.AddressOf(new PeerId("bob@lab.test/ipop-1"));
        IPAddress carol = book.AddressOf(new PeerId("carol@lab.test/ipop-1"));
        Assert.NotEqual(bob, carol);
        Assert.NotEqual(book.Self.Address, bob);
        Assert.Equal(IPAddress.Parse("198.19.100.1"), book.Self.Address);

        var reloaded = new FriendAddressBook(pool, path, TimeSpan.FromDays(7), time);
        Assert.Equal(carol, reloaded.AddressOf(new PeerId("carol@lab.test/ipop-1")));
        Assert.Equal(bob, reloaded.AddressOf(new PeerId("bob@lab.test/ipop-1")));
        Assert.Equal("bob@lab.test/ipop-1", reloaded.PeerAt(bob));
    }

    [Fact]
    public void A_full_pool_recycles_only_addresses_idle_longer_than_the_recycle_time()
    {
        var time = new FakeTimeProvider();
        var book = new FriendAddressBook(IPNetwork.Parse("198.19.100.0/30"), null, TimeSpan.FromHours(1), time); // hosts .1 (self) and .2
        IPAddress first = book.AddressOf(new PeerId("a/1"));
        Assert.Throws<InvalidOperationException>(() => book.AddressOf(new PeerId("b/1")));
        time.Advance(TimeSpan.FromHours(2));
        Assert.Equal(first, book.AddressOf(new PeerId("b/1")));
    }

    [Fact]
    public void A_corrupt_address_book_is_reported_with_its_path()
    {
        string path = Path.Combine(_dir, "bad.json");
        File.WriteAllText(path, "{ not json");
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => new FriendAddressBook(IPNetwork.Parse("198.19.100.0/24"), path, TimeSpan.FromDays(1), TimeProvider.System));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    private static byte[] Query(string name, ushort type = 1)
    {
        var q = new List<byte> { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (string label in name.Split('.'))
        {
            q.Add((byte)label.Length);
            q.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }

        q.AddRange([0, (byte)(type >> 8), (byte)type, 0, 1]);
        return [.. q];
    }

    private static IPAddress? Names(string name) => name == "bob.ipop" ? IPAddress.Parse("198.19.100.2") : null;

    [Fact]
    public void Name_server_answers_friends_names_in_our_view()
    {
        byte[] response = new byte[512];
        int n = FriendNameServer.Answer(Query("bob.ipop"), response, "ipop", Names);
        Assert.Equal(0x1234, BinaryPrimitives.ReadUInt16BigEndian(response));
        Assert.Equal(0x85, response[2]); // QR | AA | RD
        Assert.Equal(0, response[3] & 0x0F);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(response.AsSpan(6)));
        Assert.Equal(IPAddress.Parse("198.19.100.2"), new IPAddress(response.AsSpan(n - 4, 4)));
    }

    [Fact]
    public void Name_server_says_nxdomain_for_strangers_refuses_other_zones_and_ignores_garbage()
    {
        byte[] response = new byte[512];
        FriendNameServer.Answer(Query("carol.ipop"), response, "ipop", Names);
        Assert.Equal(3, response[3] & 0x0F);
        FriendNameServer.Answer(Query("example.com"), response, "ipop", Names);
        Assert.Equal(5, response[3] & 0x0F);
        Assert.Equal(0, FriendNameServer.Answer([1, 2, 3], response, "ipop", Names));
        byte[] pointer = Query("bob.ipop");
        pointer[12] = 0xC0;
        Assert.Equal(0, FriendNameServer.Answer(pointer, response, "ipop", Names));
        int n = FriendNameServer.Answer(Query("bob.ipop", type: 28), response, "ipop", Names);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(response.AsSpan(6))); // NODATA for AAAA
        Assert.True(n > 12);
    }
}
