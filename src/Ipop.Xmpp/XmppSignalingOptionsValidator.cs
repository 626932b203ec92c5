using System.Globalization;
using Ipop.Xmpp.Xml;
using Microsoft.Extensions.Options;

namespace Ipop.Xmpp;

/// <summary>Checks <see cref="XmppSignalingOptions"/> up front; each message names the key at fault.</summary>
internal sealed class XmppSignalingOptionsValidator : IValidateOptions<XmppSignalingOptions>
{
    public ValidateOptionsResult Validate(string? name, XmppSignalingOptions options)
    {
        List<string> errors = Check(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public static void ThrowIfInvalid(XmppSignalingOptions options)
    {
        List<string> errors = Check(options);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(nameof(XmppSignalingOptions), typeof(XmppSignalingOptions), errors);
        }
    }

    public static List<string> Check(XmppSignalingOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var errors = new List<string>();
        // The section every host binds (the sample hosts, the README program, docs): a failure names the key as written.
        const string P = "Xmpp:";
        if (!Jid.TryParse(o.Jid, out Jid jid) || jid.Local is null || !jid.IsBare)
        {
            errors.Add($"{P}Jid must be a bare JID 'user@domain'; got '{o.Jid}'.");
        }

        if (string.IsNullOrEmpty(o.Password))
        {
            errors.Add($"{P}Password must not be empty.");
        }

        if (o.Port is < 1 or > 65535)
        {
            errors.Add($"{P}Port must be 1..65535; got {o.Port.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (string.IsNullOrWhiteSpace(o.ResourcePrefix) || o.ResourcePrefix.Length > 64 || o.ResourcePrefix.Any(c => char.IsControl(c) || char.IsWhiteSpace(c) || c == '/'))
        {
            errors.Add($"{P}ResourcePrefix must be 1..64 printable characters without spaces or '/'; got '{o.ResourcePrefix}'.");
        }

        if (o.TrustedCaFile is not null && !File.Exists(o.TrustedCaFile))
        {
            errors.Add($"{P}TrustedCaFile '{o.TrustedCaFile}' does not exist.");
        }

        if (o.PinnedCertificateSha256 is not null && ParsePin(o.PinnedCertificateSha256) is null)
        {
            errors.Add($"{P}PinnedCertificateSha256 must be 64 hex digits (colons allowed).");
        }

        if (o.PresencePriority is < -128 or > 127)
        {
            errors.Add($"{P}PresencePriority must be -128..127 (RFC 6121 §4.7.2.3); got {o.PresencePriority.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (o.AllowPlainAuth && !o.RequireTls)
        {
            errors.Add($"{P}AllowPlainAuth requires RequireTls: PLAIN is only ever sent over TLS.");
        }

        if (o.KeepaliveInterval < TimeSpan.FromSeconds(1) || o.KeepaliveInterval > TimeSpan.FromHours(1))
        {
            errors.Add($"{P}KeepaliveInterval must be between 1 s and 1 h; got {o.KeepaliveInterval}.");
        }

        if (o.ConnectTimeout < TimeSpan.FromMilliseconds(100) || o.ConnectTimeout > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{P}ConnectTimeout must be between 100 ms and 5 min; got {o.ConnectTimeout}.");
        }

        if (o.ReconnectMinDelay < TimeSpan.FromMilliseconds(10) || o.ReconnectMaxDelay < o.ReconnectMinDelay || o.ReconnectMaxDelay > TimeSpan.FromHours(1))
        {
            errors.Add($"{P}ReconnectMinDelay must be at least 10 ms and ReconnectMaxDelay between it and 1 h; got {o.ReconnectMinDelay} / {o.ReconnectMaxDelay}.");
        }

        if (!Enum.IsDefined(o.FriendRequestPolicy))
        {
            errors.Add($"{P}FriendRequestPolicy '{o.FriendRequestPolicy}' is not one of AcceptNone, AcceptListed, Ask.");
        }

        foreach (string friend in o.AcceptedFriends)
        {
            if (!Jid.TryParse(friend, out Jid f) || !f.IsBare)
            {
                errors.Add($"{P}AcceptedFriends entry '{friend}' is not a bare JID.");
            }
        }

        foreach (string group in o.Groups)
        {
            if (!Jid.TryParse(group, out Jid g) || !g.IsBare)
            {
                errors.Add($"{P}Groups entry '{group}' is not a room name or bare room JID.");
            }
        }

        if (o.MucService is not null && (!Jid.TryParse(o.MucService, out Jid m) || m.Local is not null || !m.IsBare))
        {
            errors.Add($"{P}MucService must be a domain such as 'conference.example.org'; got '{o.MucService}'.");
        }

        if (o.Nickname is not null && (o.Nickname.Length is 0 or > 64 || o.Nickname.Any(char.IsControl)))
        {
            errors.Add($"{P}Nickname must be 1..64 characters without control characters.");
        }

        if (o.MaxStanzaBytes is < 4096 or > 16 * 1024 * 1024)
        {
            errors.Add($"{P}MaxStanzaBytes must be 4096..16777216; got {o.MaxStanzaBytes.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (o.PresenceSettleTime < TimeSpan.Zero || o.PresenceSettleTime > TimeSpan.FromHours(1))
        {
            errors.Add($"{P}PresenceSettleTime must be between 0 and 1 h; got {o.PresenceSettleTime}.");
        }

        return errors;
    }

    public static byte[]? ParsePin(string pin)
    {
        string hex = pin.Replace(":", string.Empty, StringComparison.Ordinal).Trim();
        if (hex.Length != 64)
        {
            return null;
        }

        try
        {
            return Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
