using System.Security.Cryptography;
using System.Text;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Stun;

/// <summary>Keys for MESSAGE-INTEGRITY (RFC 8489 section 9).</summary>
internal static class StunCredentialKeys
{
    /// <summary>Length of a long-term key: an MD5 digest.</summary>
    public const int LongTermKeyLength = 16;

    /// <summary>
    /// Long-term credential key = MD5(username ":" realm ":" password) (RFC 8489 section 9.2.2, the
    /// MD5 password algorithm every TURN server supports). The caller is expected to pass strings that
    /// are already OpaqueString-prepared; we do not apply SASLprep/PRECIS here.
    /// </summary>
    public static byte[] LongTerm(string username, string realm, string password)
    {
        int length = Encoding.UTF8.GetByteCount(username) + Encoding.UTF8.GetByteCount(realm) + Encoding.UTF8.GetByteCount(password) + 2;
        byte[] input = new byte[length];
        int n = Encoding.UTF8.GetBytes(username, input);
        input[n++] = (byte)':';
        n += Encoding.UTF8.GetBytes(realm, input.AsSpan(n));
        input[n++] = (byte)':';
        Encoding.UTF8.GetBytes(password, input.AsSpan(n));
        byte[] key = new byte[LongTermKeyLength];
        Md5.Hash(input, key);
        CryptographicOperations.ZeroMemory(input);
        return key;
    }

    /// <summary>Short-term credential key: the password itself (RFC 8489 section 9.1.1).</summary>
    public static byte[] ShortTerm(string password) => Encoding.UTF8.GetBytes(password);
}
