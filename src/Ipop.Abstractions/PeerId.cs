namespace Ipop;

/// <summary>
/// The overlay identity of one peer node, as the signaling layer names it
/// (for XMPP, the full JID of the node's session, e.g. <c>alice@lab.test/ipop-3f2a</c>).
/// </summary>
/// <remarks>
/// A <see cref="PeerId"/> says who a peer claims to be on the overlay; the link's
/// <see cref="NodePublicKey"/> proves it cryptographically. Controllers bind the two.
/// </remarks>
public readonly record struct PeerId
{
    /// <summary>Creates a peer id.</summary>
    /// <param name="value">A non-empty identity string without control characters.</param>
    /// <exception cref="ArgumentException">The value is empty, too long or contains control characters.</exception>
    public PeerId(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        if (value.Length > MaxLength)
        {
            throw new ArgumentException($"A peer id is at most {MaxLength} characters; got {value.Length}.", nameof(value));
        }

        foreach (char c in value)
        {
            if (char.IsControl(c))
            {
                throw new ArgumentException("A peer id must not contain control characters.", nameof(value));
            }
        }

        Value = value;
    }

    /// <summary>The longest accepted identity (a full JID is at most 3 x 1023 bytes; we stay well below).</summary>
    public const int MaxLength = 1024;

    /// <summary>The identity string.</summary>
    public string Value { get; }

    /// <inheritdoc />
    public override string ToString() => Value ?? string.Empty;
}
