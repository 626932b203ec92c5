using System.Net;
using Ipop.Lab.Frames;

namespace Ipop.Tincan.Tests.DataPlane.Forwarding;

/// <summary>
/// ARP answered locally in a structured overlay (docs/routing.md, "ARP answered locally"): real nodes on loopback in a
/// ring. A request for a member's address comes back on the asker's own interface and never enters the overlay.
/// </summary>
public sealed class ArpAnswerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Absent = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task A_request_for_a_members_address_is_answered_on_the_asking_interface_and_other_requests_still_flood()
    {
        SwitchNode[] members = await SwitchNode.StartRingAsync(4);
        try
        {
            for (int i = 0; i < members.Length; i++)
            {
                await SwitchNode.LinkAsync(members[i], members[(i + 1) % members.Length]);
            }

            (SwitchNode a, SwitchNode c) = (members[0], members[2]);
            IPAddress aIp = IPAddress.Parse("198.19.0.1");
            IPAddress cIp = IPAddress.Parse("198.19.0.3");
            Assert.True(a.Switch.SetArpEntry(cIp, c.Mac));

            a.Nic.Inject(ArpFrame.Request(a.MacBytes, aIp, cIp));

            byte[]? reply = a.Nic.TakeWritten(Wait);
            Assert.NotNull(reply);
            Assert.Equal(a.MacBytes, reply[..6]);          // to the asker
            Assert.Equal(c.MacBytes, reply[6..12]);        // from C's MAC
            Assert.Equal(2, reply[21]);                    // a reply
            Assert.Equal(c.MacBytes, reply[22..28]);       // C's MAC is at
            Assert.Equal(cIp.GetAddressBytes(), reply[28..32]);
            Assert.Equal(a.MacBytes, reply[32..38]);
            Assert.Equal(aIp.GetAddressBytes(), reply[38..42]);
            Assert.Equal(1, a.Switch.ArpAnswered);
            foreach (SwitchNode other in members[1..])
            {
                Assert.Null(other.Nic.TakeWritten(Absent)); // never flooded
            }

            // An address without an entry (a station behind a bridge, say) is asked for the usual way: every other member hears it.
            byte[] unknown = ArpFrame.Request(a.MacBytes, aIp, IPAddress.Parse("198.19.0.99"));
            a.Nic.Inject(unknown);
            foreach (SwitchNode other in members[1..])
            {
                Assert.Equal(unknown, other.Nic.TakeWritten(Wait));
            }

            Assert.Null(a.Nic.TakeWritten(Absent));
        }
        finally
        {
            foreach (SwitchNode member in members)
            {
                await member.DisposeAsync();
            }
        }
    }
}
