using System.Text;

namespace Ipop.Tincan.Tests;

internal static class Hex
{
    public static byte[] Bytes(string hex) => Convert.FromHexString(hex);

    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>Hex dump in rows of 16 bytes with offsets, for snapshots.</summary>
    public static string Dump(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < bytes.Length; i += 16)
        {
            ReadOnlySpan<byte> row = bytes.Slice(i, Math.Min(16, bytes.Length - i));
            sb.Append(i.ToString("x4", System.Globalization.CultureInfo.InvariantCulture)).Append(": ");
            for (int j = 0; j < row.Length; j++)
            {
                sb.Append(row[j].ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                sb.Append(j == 7 ? "  " : " ");
            }

            while (sb[^1] == ' ')
            {
                sb.Length--;
            }

            sb.Append('\n');
        }

        return sb.ToString();
    }
}
