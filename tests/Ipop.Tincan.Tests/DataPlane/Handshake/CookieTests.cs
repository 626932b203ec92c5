using System.Net;
using System.Security.Cryptography;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Handshake;
using Ipop.Tincan.Protocol;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Tests.DataPlane.Handshake;

/// <summary>Issue 13: cookies (a MAC of the sender's address under a rotating secret), mac2 and the cookie reply.</summary>
public sealed class CookieTests
{
    private static readonly SocketAddress Sender = new IPEndPoint(IPAddress.Parse("198.18.0.1"), 5000).Serialize();

    internal static byte[] Initiation(ReadOnlySpan<byte> receiverPublicKey, uint senderIndex = 7)
    {
        byte[] message = new byte[HandshakeInitiationMessage.Length];
        HandshakeInitiationMessage.WriteHeader(message, senderIndex);
        RandomNumberGenerator.Fill(HandshakeInitiationMessage.NoiseMessage(message));
        HandshakeMac.Write(message, HandshakeMac.DeriveKey(receiverPublicKey));
        return message;
    }

    [Fact]
    public void A_cookie_is_the_same_for_one_address_and_differs_by_ip_and_port()
    {
        using StaticKeyPair keys = StaticKeyPair.Generate();
        var cookies = new CookieGenerator(keys.PublicKeyBytes, new FakeTimeProvider());
        byte[] first = Cookie(cookies, Sender);
        Assert.Equal(first, Cookie(cookies, new IPEndPoint(IPAddress.Parse("198.18.0.1"), 5000).Serialize()));
        Assert.NotEqual(first, Cookie(cookies, new IPEndPoint(IPAddress.Parse("198.18.0.1"), 5001).Serialize()));
        Assert.NotEqual(first, Cookie(cookies, new IPEndPoint(IPAddress.Parse("198.18.0.2"), 5000).Serialize()));
    }

    [Fact]
    public void Mac2_made_with_the_cookie_passes_and_a_missing_or_wrong_one_does_not()
    {
        using StaticKeyPair keys = StaticKeyPair.Generate();
        var cookies = new CookieGenerator(keys.PublicKeyBytes, new FakeTimeProvider());
        byte[] message = Initiation(keys.PublicKeyBytes);
        Assert.False(cookies.CheckMac2(message, Sender));

        HandshakeMac.WriteMac2(message, Cookie(cookies, Sender));
        Assert.True(cookies.CheckMac2(message, Sender));
        Assert.True(HandshakeMac.Verify(message, HandshakeMac.DeriveKey(keys.PublicKeyBytes)));
        Assert.False(cookies.CheckMac2(message, new IPEndPoint(IPAddress.Parse("198.18.0.9"), 5000).Serialize()));

        message[20] ^= 1;
        Assert.False(cookies.CheckMac2(message, Sender));
    }

    [Fact]
    public void The_secret_rotates_after_two_minutes_and_old_cookies_stop_passing()
    {
        using StaticKeyPair keys = StaticKeyPair.Generate();
        var time = new FakeTimeProvider();
        var cookies = new CookieGenerator(keys.PublicKeyBytes, time);
        byte[] message = Initiation(keys.PublicKeyBytes);
        byte[] cookie = Cookie(cookies, Sender);
        HandshakeMac.WriteMac2(message, cookie);

        time.Advance(TimeSpan.FromSeconds(119));
        Assert.True(cookies.CheckMac2(message, Sender));
        Assert.Equal(cookie, Cookie(cookies, Sender));

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(cookies.CheckMac2(message, Sender));
        Assert.NotEqual(cookie, Cookie(cookies, Sender));
    }

    [Fact]
    public void A_cookie_reply_opens_only_with_the_responders_key_and_the_mac1_it_answers()
    {
        using StaticKeyPair responder = StaticKeyPair.Generate();
        using StaticKeyPair other = StaticKeyPair.Generate();
        var cookies = new CookieGenerator(responder.PublicKeyBytes, new FakeTimeProvider());
        byte[] message = Initiation(responder.PublicKeyBytes, senderIndex: 0xA1B2C3D4);
        byte[] reply = new byte[CookieReplyMessage.Length];
        cookies.WriteReply(reply, 0xA1B2C3D4, message, Sender);

        Assert.Equal(64, reply.Length);
        Assert.True(CookieReplyMessage.TryRead(reply, out uint receiver));
        Assert.Equal(0xA1B2C3D4u, receiver);

        byte[] opened = new byte[CookieReplyMessage.CookieLength];
        Assert.True(CookieReplyMessage.TryOpen(reply, HandshakeMac.DeriveCookieKey(responder.PublicKeyBytes), HandshakeMac.Mac1(message), opened));
        Assert.Equal(Cookie(cookies, Sender), opened);

        Assert.False(CookieReplyMessage.TryOpen(reply, HandshakeMac.DeriveCookieKey(other.PublicKeyBytes), HandshakeMac.Mac1(message), opened));
        byte[] another = Initiation(responder.PublicKeyBytes);
        Assert.False(CookieReplyMessage.TryOpen(reply, HandshakeMac.DeriveCookieKey(responder.PublicKeyBytes), HandshakeMac.Mac1(another), opened));
        reply[40] ^= 1;
        Assert.False(CookieReplyMessage.TryOpen(reply, HandshakeMac.DeriveCookieKey(responder.PublicKeyBytes), HandshakeMac.Mac1(message), opened));
    }

    private static byte[] Cookie(CookieGenerator cookies, SocketAddress address)
    {
        byte[] cookie = new byte[CookieReplyMessage.CookieLength];
        cookies.ComputeCookie(address, cookie);
        return cookie;
    }
}
