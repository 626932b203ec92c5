using System.Globalization;
using System.Security.Cryptography;
using System.Text;

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
#pragma warning disable CA5350 // HMAC-SHA1 is what the TURN REST API scheme (and coturn) specify.
        byte[] mac = HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username));
#pragma warning restore CA5350
        return new TurnCredentials(username, Convert.ToBase64String(mac));
    }

    public override string ToString() => $"{Username} (password hidden)";
}
