using System.Net;
using Ipop.Lab.Frames;
using static Ipop.Tincan.Tests.Routing.SwitchTestKit;

namespace Ipop.Tincan.Tests.Routing;

/// <summary>ARP suppression: the switch answers ARP requests for members' addresses on the interface, without a flood.</summary>
public sealed class LearningSwitchArpTests
{
    private const string Local = "02:00:00:00:00:01";
    private const string Carol = "02:00:00:00:00:0c";
    private static readonly IPAddress LocalIp = IPAddress.Parse("198.19.0.1");
    private static readonly IPAddress CarolIp = IPAddress.Parse("198.19.0.12");

    private static byte[] Arp(string ethDst, string ethSrc, ushort op, string senderMac, IPAddress senderIp, string targetMac, IPAddress targetIp) =>
        ArpFrame.Build(Mac(ethDst).GetAddressBytes(), Mac(ethSrc).GetAddressBytes(), op, Mac(senderMac).GetAddressBytes(), senderIp, Mac(targetMac).GetAddressBytes(), targetIp);

    private static byte[] Request(IPAddress target) => ArpFrame.Request(Mac(Local).GetAddressBytes(), LocalIp, target);

    [Fact]
    public void A_request_for_a_members_address_is_rewritten_into_the_reply_from_its_mac()
    {
        LearningSwitch sw = StructuredSwitch(Local);
        Assert.True(sw.SetArpEntry(CarolIp, Mac(Carol)));
        byte[] frame = Request(CarolIp);

        Assert.Equal(SwitchRoute.AnswerLocally, sw.RouteFrame(frame, out ITincanLink? link, answerArp: true));

        Assert.Null(link);
        Assert.Equal(Arp(Local, Carol, 2, Carol, CarolIp, Local, LocalIp), frame);
        Assert.Equal(1, sw.ArpAnswered);
    }

    [Fact]
    public void Other_arp_is_flooded_as_before_and_the_public_decision_never_rewrites()
    {
        LearningSwitch sw = StructuredSwitch(Local);
        Assert.True(sw.SetArpEntry(CarolIp, Mac(Carol)));

        byte[] unknown = Request(IPAddress.Parse("198.19.0.99"));
        byte[] announcement = Arp("ff:ff:ff:ff:ff:ff", Local, 1, Local, CarolIp, "00:00:00:00:00:00", CarolIp);
        byte[] reply = Arp("ff:ff:ff:ff:ff:ff", Local, 2, Local, LocalIp, Carol, CarolIp);
        byte[] untouched = Request(CarolIp);
        byte[] publicPath = Request(CarolIp);
        Assert.Equal(SwitchRoute.Flood, sw.RouteFrame(unknown, out _, answerArp: true));
        Assert.Equal(SwitchRoute.Flood, sw.RouteFrame(announcement, out _, answerArp: true)); // gratuitous ARP
        Assert.Equal(SwitchRoute.Flood, sw.RouteFrame(reply, out _, answerArp: true));
        Assert.Equal(SwitchRoute.Flood, sw.RouteFrame(untouched, out _)); // a caller that does not write it back
        Assert.Equal(RouteAction.Flood, sw.RouteOutbound(publicPath).Action);
        Assert.Equal(Request(CarolIp), untouched);
        Assert.Equal(Request(CarolIp), publicPath);
        Assert.Equal(0, sw.ArpAnswered);
    }

    [Fact]
    public void Entries_take_ipv4_and_unicast_macs_and_are_removed_only_while_they_name_that_mac()
    {
        LearningSwitch sw = StructuredSwitch(Local);
        Assert.False(sw.SetArpEntry(IPAddress.Parse("2001:2::12"), Mac(Carol)));
        Assert.False(sw.SetArpEntry(CarolIp, Mac("01:00:5e:00:00:01")));
        Assert.True(sw.SetArpEntry(CarolIp, Mac(Carol)));

        // The address moved to another member: the old holder's removal leaves the new entry.
        Assert.True(sw.SetArpEntry(CarolIp, Mac("02:00:00:00:00:0d")));
        Assert.False(sw.RemoveArpEntry(CarolIp, Mac(Carol)));
        byte[] frame = Request(CarolIp);
        Assert.Equal(SwitchRoute.AnswerLocally, sw.RouteFrame(frame, out _, answerArp: true));
        Assert.Equal(Arp(Local, "02:00:00:00:00:0d", 2, "02:00:00:00:00:0d", CarolIp, Local, LocalIp), frame);

        Assert.True(sw.RemoveArpEntry(CarolIp, Mac("02:00:00:00:00:0d")));
        Assert.Equal(SwitchRoute.Flood, sw.RouteFrame(Request(CarolIp), out _, answerArp: true));
    }

    [Fact]
    public void Answering_does_not_allocate()
    {
        LearningSwitch sw = StructuredSwitch(Local);
        Assert.True(sw.SetArpEntry(CarolIp, Mac(Carol)));
        byte[] request = Request(CarolIp);
        byte[] frame = new byte[request.Length];
        request.CopyTo(frame, 0);
        sw.RouteFrame(frame, out _, answerArp: true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            request.CopyTo(frame, 0);
            sw.RouteFrame(frame, out _, answerArp: true);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_001, sw.ArpAnswered);
    }
}
