from django.http import HttpResponse
from django.urls import path

from site_config.urls import urlpatterns as site_urlpatterns


def trivial(request):
    return HttpResponse("ok")


urlpatterns = [path("bench/trivial/", trivial), *site_urlpatterns]
