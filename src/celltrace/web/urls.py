from django.urls import path

from celltrace.web import views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.login_view, name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("logout/", views.logout_view, name="logout"),
    path("account/", views.account, name="account"),
    path("account/password/", views.password_change, name="password_change"),
    path("account/two-factor/", views.totp_enrol, name="totp_enrol"),
    path("account/two-factor/verify/", views.totp_verify, name="totp_verify"),
    path("organisations/", views.organisations, name="organisations"),
    path("organisations/new/", views.organisation_create, name="organisation_create"),
    path("organisations/<int:pk>/", views.organisation_detail, name="organisation"),
    path("users/", views.users, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_detail, name="user"),
    path("sign/<str:record_type>/<str:record_id>/", views.sign, name="sign"),
    path("signatures/<int:pk>/withdraw/", views.signature_withdraw, name="signature_withdraw"),
]
