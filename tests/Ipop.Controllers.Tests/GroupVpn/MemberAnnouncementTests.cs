using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using Ipop.Controllers.GroupVpn;

namespace Ipop.Controllers.Tests.GroupVpn;

/// <summary>The presence announcement of a GroupVPN member: its addresses and, in switch mode, its MAC.</summary>
public sealed class MemberAnnouncementTests
{
    [Fact]
    public void Addresses_and_the_mac_round_trip()
    {
        InterfaceAddress[] addresses = [InterfaceAddress.Parse("198.19.0.5/16"), InterfaceAddress.Parse("2001:2::5/64")];
        var mac = PhysicalAddress.Parse("02-00-5E-00-53-05");

        string text = MemberAnnouncement.Format(addresses, mac);
        ImmutableArray<IPAddress> parsed = MemberAnnouncement.Parse(text, out PhysicalAddress? read, out string? problem);

        Assert.Equal("a=198.19.0.5 a=2001:2::5 m=02:00:5e:00:53:05", text);
        Assert.Equal([IPAddress.Parse("198.19.0.5"), IPAddress.Parse("2001:2::5")], parsed);
        Assert.Equal(mac, read);
        Assert.Null(problem);
        Assert.Equal("a=198.19.0.5 a=2001:2::5", MemberAnnouncement.Format(addresses));
    }

    [Theory]
    [InlineData("a=198.19.0.5 m=03:00:5e:00:53:05", "'m=03:00:5e:00:53:05' is not a unicast MAC address such as m=02:00:5e:00:53:05")]
    [InlineData("a=198.19.0.5 m=00:00:00:00:00:00", "'m=00:00:00:00:00:00' is the all-zero MAC address")]
    [InlineData("a=198.19.0.5 m=02:00:5e:00:53", "'m=02:00:5e:00:53' is not a unicast MAC address such as m=02:00:5e:00:53:05")]
    [InlineData("a=198.19.0.5 m=02-00-5e-00-53-05", "'m=02-00-5e-00-53-05' is not a unicast MAC address such as m=02:00:5e:00:53:05")]
    [InlineData("a=198.19.0.5 m=zz:00:5e:00:53:05", "'m=zz:00:5e:00:53:05' is not a unicast MAC address such as m=02:00:5e:00:53:05")]
    public void A_bad_mac_is_skipped_with_a_precise_problem_and_the_addresses_stay(string text, string expected)
    {
        ImmutableArray<IPAddress> parsed = MemberAnnouncement.Parse(text, out PhysicalAddress? mac, out string? problem);

        Assert.Equal([IPAddress.Parse("198.19.0.5")], parsed);
        Assert.Null(mac);
        Assert.Equal(expected, problem);
    }

    [Fact]
    public void An_announcement_without_a_mac_has_none_and_a_later_good_one_wins_over_a_bad_one()
    {
        Assert.Empty(MemberAnnouncement.Parse(null, out PhysicalAddress? none, out _));
        Assert.Null(none);

        MemberAnnouncement.Parse("m=zz m=02:00:5e:00:53:07", out PhysicalAddress? mac, out string? problem);
        Assert.Equal(PhysicalAddress.Parse("02-00-5E-00-53-07"), mac);
        Assert.NotNull(problem);
    }
}
