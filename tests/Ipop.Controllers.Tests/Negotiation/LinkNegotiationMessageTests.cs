using System.Net.NetworkInformation;
using Ipop.Controllers.Negotiation;
using Ipop.Controllers.Tests.Fakes;
using Ipop.Lab;

namespace Ipop.Controllers.Tests.Negotiation;

public sealed class LinkNegotiationMessageTests
{
    private static readonly LinkNegotiationMessage Sample = new(
        FakeTincan.Descriptor(new NodePublicKey(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()), "198.18.0.9:5000"),
        [InterfaceAddress.Parse("198.19.0.5/16"), InterfaceAddress.Parse("2001:2:0:1::5/64")],
        PhysicalAddress.Parse("02-00-00-00-00-05"));

    [Fact]
    public void Wire_form_is_stable() => Snapshot.Verify(Sample.ToJson());

    [Fact]
    public void Round_trips()
    {
        LinkNegotiationMessage back = LinkNegotiationMessage.Parse(Sample.ToJson());
        Assert.Equal(Sample.Addresses, back.Addresses);
        Assert.Equal(Sample.Mac, back.Mac);
        Assert.Equal(Sample.Descriptor!.Key, back.Descriptor!.Key);
    }

    [Theory]
    [InlineData("[]", "field 'v'")]
    [InlineData("{\"v\":1,\"addresses\":[\"198.19.0\"]}", "field 'addresses'")]
    [InlineData("{\"v\":1,\"mac\":\"ff\"}", "field 'mac'")]
    [InlineData("{\"v\":1,\"descriptor\":{\"v\":1}}", "Link descriptor field 'key'")]
    // Found by fuzzing (fuzz/corpus/link-negotiation/crash-number-type-*): a non-number 'v' threw InvalidOperationException.
    [InlineData("{\"v\":[]}", "field 'v'")]
    [InlineData("{\"v\":\"1\"}", "field 'v'")]
    // Found by fuzzing (fuzz/corpus/link-negotiation/crash-lone-surrogate): an escaped lone surrogate is valid JSON but
    // not text, and JsonElement.GetString threw InvalidOperationException.
    [InlineData("{\"v\":1,\"descriptor\":{\"v\":1,\"key\":\"zo060cy2M\\ude2Bx7c\"}}", "Link descriptor field 'key': not valid text")]
    [InlineData("{\"v\":1,\"addresses\":[\"\\udead\"]}", "not valid text")]
    // A static descriptor (no check credentials) is valid in process and through the controller API, never from a peer.
    [InlineData("{\"v\":1,\"descriptor\":{\"v\":1,\"key\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\",\"ufrag\":\"\",\"pwd\":\"\",\"candidates\":[]}}", "no check credentials")]
    public void Rejects_bad_messages_naming_the_field(string body, string expected)
    {
        FormatException e = Assert.Throws<FormatException>(() => LinkNegotiationMessage.Parse(body));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
