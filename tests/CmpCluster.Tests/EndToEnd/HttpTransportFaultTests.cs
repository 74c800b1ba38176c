using System.Net;
using System.Net.Http.Headers;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>Flow 6: transport faults are HTTP statuses; a DER object that is not a PKIMessage is a CMP error (HTTP 200).</summary>
public sealed class HttpTransportFaultTests(NodeFixture fixture) : IClassFixture<NodeFixture>, IDisposable
{
    private const string PkixCmp = "application/pkixcmp";
    private readonly HttpClient _http = fixture.Node.CreateHttpClient();

    private NodeProcess Node => fixture.Node;

    public void Dispose() => _http.Dispose();

    private static ByteArrayContent Body(byte[] bytes, string? contentType = PkixCmp)
    {
        var content = new ByteArrayContent(bytes);
        if (contentType is not null)
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        return content;
    }

    private async Task<(HttpStatusCode Status, string? ContentType, byte[] Body)> PostAsync(string path, HttpContent content)
    {
        using HttpResponseMessage response = await _http.PostAsync(path, content);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Health_answers_ok()
    {
        string body = await _http.GetStringAsync("/health");
        Assert.Equal("ok", body.Trim());
    }

    [Theory]
    [InlineData("/.well-known/cmp/p/no-such-alias")]
    [InlineData("/cmp/no-such-alias")]
    public async Task Unknown_alias_is_404(string path)
    {
        var (status, _, body) = await PostAsync(path, Body([0x30, 0x03, 0x02, 0x01, 0x05]));
        Assert.True(status == HttpStatusCode.NotFound, $"got {(int)status}\n{Node.Diagnostics()}");
        Assert.NotEmpty(body);
    }

    [Fact]
    public async Task Body_that_is_not_der_is_400()
    {
        var (status, contentType, _) = await PostAsync("/.well-known/cmp/p/ra", Body("garbage"u8.ToArray()));
        Assert.True(status == HttpStatusCode.BadRequest, $"got {(int)status}\n{Node.Diagnostics()}");
        Assert.NotEqual(PkixCmp, contentType);
    }

    [Fact]
    public async Task Content_type_parameters_are_accepted()
    {
        // Passes the content-type check (else 415) and then fails as not DER.
        var (status, _, _) = await PostAsync("/cmp/ra", Body("garbage"u8.ToArray(), "application/pkixcmp; charset=binary"));
        Assert.True(status == HttpStatusCode.BadRequest, $"got {(int)status}\n{Node.Diagnostics()}");
    }

    [Theory]
    [InlineData("application/octet-stream")]
    [InlineData("text/plain")]
    [InlineData(null)]
    public async Task Wrong_or_missing_content_type_is_415(string? contentType)
    {
        var (status, _, _) = await PostAsync("/.well-known/cmp/p/ra", Body([0x30, 0x03, 0x02, 0x01, 0x05], contentType));
        Assert.True(status == HttpStatusCode.UnsupportedMediaType, $"got {(int)status}\n{Node.Diagnostics()}");
    }

    [Fact]
    public async Task Oversized_body_is_413()
    {
        var (status, _, _) = await PostAsync("/.well-known/cmp/p/ra", Body(new byte[70_000]));
        Assert.True(status == HttpStatusCode.RequestEntityTooLarge, $"got {(int)status}\n{Node.Diagnostics()}");
    }

    [Fact]
    public async Task Oversized_chunked_body_without_content_length_is_413()
    {
        var content = new StreamContent(new MemoryStream(new byte[70_000]));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(PkixCmp);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/cmp/ra") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using HttpResponseMessage response = await _http.SendAsync(request);
        Assert.Null(request.Content.Headers.ContentLength);
        Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"got {(int)response.StatusCode}\n{Node.Diagnostics()}");
    }

    [Fact]
    public async Task Der_that_is_not_a_PKIMessage_gets_a_signed_cmp_error_with_badRequest()
    {
        var (status, contentType, body) = await PostAsync("/.well-known/cmp/p/ra", Body([0x30, 0x03, 0x02, 0x01, 0x05]));

        Assert.True(status == HttpStatusCode.OK, $"got {(int)status}\n{Node.Diagnostics()}");
        Assert.Equal(PkixCmp, contentType);
        CmpResponseView error = CmpResponseView.Parse(body);
        Assert.Equal(PkiBodyType.Error, error.BodyType);
        Assert.Contains(PkiFailureInfo.BadRequest, error.FailInfo);
        Assert.True(error.VerifySignature(E2e.DerOfPem(Node.CmpSignerPath)), "the error is not signed by the CMP signer");
    }
}
