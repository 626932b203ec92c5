using System.Net;
using Ipop.Tincan.Stun;

namespace Ipop.Tincan.Tests.Stun;

public sealed class StunMessageVectorTests
{
    private static readonly StunTransactionId VectorId = StunTransactionId.Read(Rfc5769Vectors.TransactionId);

    [Fact]
    public void Sample_request_parses_and_its_integrity_and_fingerprint_verify()
    {
        Assert.Equal(StunParseError.None, StunMessage.TryParse(Rfc5769Vectors.Request, out StunMessage message));
        Assert.Equal(StunMethod.Binding, message.Method);
        Assert.Equal(StunMessageClass.Request, message.Class);
        Assert.Equal(VectorId, message.TransactionId);
        Assert.True(message.TryGetString(StunAttributeType.Software, out string? software));
        Assert.Equal("STUN test client", software);
        Assert.True(message.TryGetString(StunAttributeType.Username, out string? username));
        Assert.Equal("evtj:h6vY", username);
        Assert.True(message.TryGetUInt32(StunAttributeType.Priority, out uint priority));
        Assert.Equal(0x6e0001ffu, priority);
        Assert.True(message.TryGetUInt64(StunAttributeType.IceControlled, out ulong tieBreaker));
        Assert.Equal(0x932ff9b151263b36UL, tieBreaker);
        Assert.True(message.VerifyFingerprint());
        Assert.True(message.VerifyMessageIntegrity(StunCredentialKeys.ShortTerm(Rfc5769Vectors.Password)));
        Assert.False(message.VerifyMessageIntegrity(StunCredentialKeys.ShortTerm("wrong")));
        Assert.Equal(0, message.GetUnknownComprehensionRequired(stackalloc ushort[4]));
    }

    [Fact]
    public void Writer_reproduces_the_sample_request_bytes()
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.Request, VectorId) { PaddingByte = 0x20 };
        writer.AppendString(StunAttributeType.Software, "STUN test client");
        writer.AppendUInt32(StunAttributeType.Priority, 0x6e0001ff);
        writer.AppendUInt64(StunAttributeType.IceControlled, 0x932ff9b151263b36);
        writer.AppendString(StunAttributeType.Username, "evtj:h6vY");
        writer.AppendMessageIntegrity(StunCredentialKeys.ShortTerm(Rfc5769Vectors.Password));
        writer.AppendFingerprint();
        Assert.Equal(Convert.ToHexString(Rfc5769Vectors.Request), Convert.ToHexString(writer.Written));
    }

    [Fact]
    public void Sample_IPv4_response_gives_192_0_2_1_port_32853()
    {
        Assert.Equal(StunParseError.None, StunMessage.TryParse(Rfc5769Vectors.IPv4Response, out StunMessage message));
        Assert.Equal(StunMessageClass.SuccessResponse, message.Class);
        Assert.True(message.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint? mapped));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 32853), mapped);
        Assert.True(message.VerifyFingerprint());
        Assert.True(message.VerifyMessageIntegrity(StunCredentialKeys.ShortTerm(Rfc5769Vectors.Password)));
    }

    [Fact]
    public void Writer_reproduces_the_sample_IPv4_response_bytes()
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.SuccessResponse, VectorId) { PaddingByte = 0x20 };
        writer.AppendString(StunAttributeType.Software, "test vector");
        writer.AppendXorAddress(StunAttributeType.XorMappedAddress, new IPEndPoint(IPAddress.Parse("192.0.2.1"), 32853));
        writer.AppendMessageIntegrity(StunCredentialKeys.ShortTerm(Rfc5769Vectors.Password));
        writer.AppendFingerprint();
        Assert.Equal(Convert.ToHexString(Rfc5769Vectors.IPv4Response), Convert.ToHexString(writer.Written));
    }

    [Fact]
    public void Sample_IPv6_response_gives_the_documented_address()
    {
        Assert.Equal(StunParseError.None, StunMessage.TryParse(Rfc5769Vectors.IPv6Response, out StunMessage message));
        Assert.True(message.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint? mapped));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8:1234:5678:11:2233:4455:6677"), 32853), mapped);
        Assert.True(message.VerifyFingerprint());
        Assert.True(message.VerifyMessageIntegrity(StunCredentialKeys.ShortTerm(Rfc5769Vectors.Password)));
    }

    [Fact]
    public void Writer_reproduces_the_sample_IPv6_response_bytes()
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.SuccessResponse, VectorId) { PaddingByte = 0x20 };
        writer.AppendString(StunAttributeType.Software, "test vector");
        writer.AppendXorAddress(StunAttributeType.XorMappedAddress, new IPEndPoint(IPAddress.Parse("2001:db8:1234:5678:11:2233:4455:6677"), 32853));
        writer.AppendMessageIntegrity(StunCredentialKeys.ShortTerm(Rfc5769Vectors.Password));
        writer.AppendFingerprint();
        Assert.Equal(Convert.ToHexString(Rfc5769Vectors.IPv6Response), Convert.ToHexString(writer.Written));
    }

    [Fact]
    public void Long_term_request_verifies_with_the_MD5_key_of_username_realm_password()
    {
        Assert.Equal(StunParseError.None, StunMessage.TryParse(Rfc5769Vectors.LongTermRequest, out StunMessage message));
        Assert.True(message.TryGetString(StunAttributeType.Username, out string? username));
        Assert.Equal(Rfc5769Vectors.LongTermUsername, username);
        Assert.True(message.TryGetString(StunAttributeType.Realm, out string? realm));
        Assert.Equal(Rfc5769Vectors.LongTermRealm, realm);
        Assert.True(message.TryGetString(StunAttributeType.Nonce, out string? nonce));
        Assert.Equal(Rfc5769Vectors.LongTermNonce, nonce);
        Assert.False(message.HasFingerprint);
        byte[] key = StunCredentialKeys.LongTerm(Rfc5769Vectors.LongTermUsername, Rfc5769Vectors.LongTermRealm, Rfc5769Vectors.LongTermPassword);
        Assert.True(message.VerifyMessageIntegrity(key));
        Assert.False(message.VerifyMessageIntegrity(StunCredentialKeys.LongTerm(Rfc5769Vectors.LongTermUsername, Rfc5769Vectors.LongTermRealm, "TheMatrix")));
    }

    [Fact]
    public void Writer_reproduces_the_long_term_request_bytes()
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunMessageClass.Request, StunTransactionId.Read(Convert.FromHexString("78ad3433c6ad72c029da412e")));
        writer.AppendString(StunAttributeType.Username, Rfc5769Vectors.LongTermUsername);
        writer.AppendString(StunAttributeType.Nonce, Rfc5769Vectors.LongTermNonce);
        writer.AppendString(StunAttributeType.Realm, Rfc5769Vectors.LongTermRealm);
        writer.AppendMessageIntegrity(StunCredentialKeys.LongTerm(Rfc5769Vectors.LongTermUsername, Rfc5769Vectors.LongTermRealm, Rfc5769Vectors.LongTermPassword));
        Assert.Equal(Convert.ToHexString(Rfc5769Vectors.LongTermRequest), Convert.ToHexString(writer.Written));
    }

    [Fact]
    public void A_flipped_bit_breaks_fingerprint_and_integrity()
    {
        byte[] copy = (byte[])Rfc5769Vectors.Request.Clone();
        copy[30] ^= 0x01; // inside SOFTWARE
        Assert.Equal(StunParseError.None, StunMessage.TryParse(copy, out StunMessage message));
        Assert.False(message.VerifyFingerprint());
        Assert.False(message.VerifyMessageIntegrity(StunCredentialKeys.ShortTerm(Rfc5769Vectors.Password)));
    }

    [Fact]
    public void Message_type_encoding_matches_the_RFC_examples()
    {
        Assert.Equal(0x0001, StunMessageType.Encode(StunMethod.Binding, StunMessageClass.Request));
        Assert.Equal(0x0101, StunMessageType.Encode(StunMethod.Binding, StunMessageClass.SuccessResponse));
        Assert.Equal(0x0111, StunMessageType.Encode(StunMethod.Binding, StunMessageClass.ErrorResponse));
        Assert.Equal(0x0017, StunMessageType.Encode(StunMethod.Data, StunMessageClass.Indication));
        Assert.Equal(0x0016, StunMessageType.Encode(StunMethod.Send, StunMessageClass.Indication));
        Assert.Equal(0x0113, StunMessageType.Encode(StunMethod.Allocate, StunMessageClass.ErrorResponse));
        Assert.Equal(0x0109, StunMessageType.Encode(StunMethod.ChannelBind, StunMessageClass.SuccessResponse));
        for (int method = 0; method < 0x1000; method += 7)
        {
            foreach (StunMessageClass c in Enum.GetValues<StunMessageClass>())
            {
                ushort type = StunMessageType.Encode((StunMethod)method, c);
                Assert.Equal(method, (int)StunMessageType.GetMethod(type));
                Assert.Equal(c, StunMessageType.GetClass(type));
            }
        }
    }
}
