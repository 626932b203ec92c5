using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Turn;

/// <summary>Long-term TURN credentials (RFC 8489 section 9.2). <see cref="ToString"/> never shows the password.</summary>
internal sealed class TurnCredentials
{
    public TurnCredentials(string username, string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(username);
        ArgumentNullException.ThrowIfNull(password);
        Username = username;
        Password = password;
    }

    public string Username { get; }

    public string Password { get; }

    /// <summary>
    /// Time-limited credentials of the "TURN REST API" (draft-uberti-behave-turn-rest, coturn's
    /// <c>--use-auth-secret</c>): username "&lt;unix expiry&gt;:&lt;name&gt;", password base64(HMAC-SHA1(secret, username)).
    /// </summary>
    public static TurnCredentials FromSharedSecret(string secret, string name, DateTimeOffset expiry)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        string stamp = expiry.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        string username = string.IsNullOrEmpty(name) ? stamp : $"{stamp}:{name}";
        // HMAC-SHA1 is what the TURN REST API scheme (and coturn) specify.
        byte[] key = Encoding.UTF8.GetBytes(secret);
        Span<byte> mac = stackalloc byte[HmacSha1.MacLength];
        HmacSha1.Compute(key, Encoding.UTF8.GetBytes(username), mac);
        CryptographicOperations.ZeroMemory(key);
        return new TurnCredentials(username, Convert.ToBase64String(mac));
    }

    public override string ToString() => $"{Username} (password hidden)";
}
